"""Server-rendered pages (Django templates), working without JavaScript."""
