"""The API's one router: DRF's SimpleRouter as the API's paths need it."""

from __future__ import annotations

from rest_framework.routers import Route, SimpleRouter


class ApiRouter(SimpleRouter):
    """No trailing slashes; Django `path()` patterns (whole-path matches, an id is any `<str:...>`
    segment, dots included); each ViewSet names its id (`lookup_url_kwarg`) and, in `route_names`,
    its list and detail routes (the `name` an OPTIONS request is answered with, which DRF would
    otherwise make from the class name and a `List`/`Instance` suffix). Extra actions name themselves
    with `@action(name=...)`."""

    def __init__(self):
        super().__init__(trailing_slash=False, use_regex_path=False)

    def get_routes(self, viewset) -> list[Route]:
        names = getattr(viewset, "route_names", {})
        return [
            route._replace(initkwargs={"name": names.get("detail" if route.detail else "list")})
            if "suffix" in route.initkwargs
            else route
            for route in super().get_routes(viewset)
        ]
