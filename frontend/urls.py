from django.urls import re_path

from frontend.views import AppView

# Last in trading/urls.py: every path that is not Django's own (api/, admin/, ws/, static/) is a page of the app,
# which shows its own "not found" page.
urlpatterns = [re_path(r"^(?!(?:api|admin|ws|static)(?:/|$))(?P<path>.*)$", AppView.as_view(), name="app")]
