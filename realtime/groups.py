"""Channel-layer group names (ASCII letters, digits, hyphens, periods; under 100 characters)."""


def org_group(org_id: int) -> str:
    return f"org-{org_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def room_group(room: str) -> str:
    """ "evaluation:12" -> "room.evaluation.12": every connection to the room, whatever its audience."""
    return "room." + room.replace(":", ".")
