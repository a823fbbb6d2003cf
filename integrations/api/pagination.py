import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Stable cursor paging by id (newest first), ``?cursor=`` and ``?page_size=`` (≤ 200).

    A page_size that is not a whole number ≥ 1 is a 400 (it used to be ignored silently, which the
    schema could not say); a larger one than 200 still means 200.
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number, at least 1."]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page: {self.page_size} unless given; more than {self.max_page_size} "
                    f"means {self.max_page_size}."
                )
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
