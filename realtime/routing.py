from django.urls import path

from realtime import consumers

websocket_urlpatterns = [
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
    path("ws/evaluation/<int:lot_id>/", consumers.EvaluationRoomConsumer.as_asgi()),
    path("ws/opening/<int:lot_id>/", consumers.OpeningHallConsumer.as_asgi()),
]
