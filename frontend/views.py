from django.views.generic import TemplateView


class HomeView(TemplateView):
    """The portal's front page until the single-page app arrives: notices and the ways in."""

    template_name = "frontend/home.html"

    def get_context_data(self, **kwargs):
        from notices.views import public_notices

        return {**super().get_context_data(**kwargs), "notices": public_notices()[:10]}
