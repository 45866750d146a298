from django.urls import path

from realtime import views

urlpatterns = [
    path("realtime/ticket/", views.TicketView.as_view(), name="realtime-ticket"),
]
