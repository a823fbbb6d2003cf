"""``{% empty_state opts %}`` for the admin's change_list.html (integrations.admin_look)."""

from django import template

from integrations.admin_look import empty_state_for

register = template.Library()


@register.inclusion_tag("admin/includes/empty_state.html")
def empty_state(opts):
    return empty_state_for(opts)
