"""The users' admin page gets a "Clear sign-in lock" action (api.login_throttle)."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from api import login_throttle

User = get_user_model()


@admin.action(description="Clear sign-in lock (forget failed sign-ins)", permissions=["change"])
def clear_sign_in_lock(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]) -> None:
    usernames = [user.get_username() for user in queryset]
    cleared = sum(login_throttle.clear(username=username) for username in usernames)
    modeladmin.message_user(
        request, f"Cleared failed sign-ins for {cleared} of {len(usernames)} selected users "
        "(the others had none on record).", messages.SUCCESS)


class ThrottledUserAdmin(UserAdmin):
    actions = [clear_sign_in_lock]


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ThrottledUserAdmin)
