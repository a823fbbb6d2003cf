from django import template

register = template.Library()


@register.filter
def lookup_field(form, name: str):
    """``form|lookup_field:"parent.child"``: a bound field by name (dots are not attribute access here)."""
    return form[name]
