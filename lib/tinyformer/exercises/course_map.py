"""exercises for notebook topic: course_map."""

__all__: list[str] = []
