"""Sign up, sign in, sign out, who am I, API tokens for scripts, and clearing a sign-in lock."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from api.auth_backend import refusal_of
from api.login_throttle import Refusal
from api.login_unlock import UnlockTokenError, unlock
from api.projects.serializers import LoginSerializer, SignUpSerializer, TokenSerializer, UserSerializer

User = get_user_model()


class CsrfView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("Csrf", {"csrfToken": serializers.CharField()}))
    def get(self, request: Request) -> Response:
        """Sets the csrftoken cookie; send its value as X-CSRFToken on unsafe requests."""
        return Response({"csrfToken": get_token(request)})


class SignUpView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=SignUpSerializer, responses={201: UserSerializer})
    def post(self, request: Request) -> Response:
        serializer = SignUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = User.objects.create_user(
            username=data["username"], email=data.get("email", ""), password=data["password"]
        )
        login(request._request, user, backend="api.auth_backend.ThrottledModelBackend")
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class InvalidCredentials(APIException):
    status_code = 400
    default_detail = "Invalid username or password."
    default_code = "invalid_credentials"


class SignInThrottled(APIException):
    """429 with Retry-After (DRF's handler sets it from ``wait``) and the throttle's message."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "sign_in_throttled"

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.wait = refusal.wait_s


def _credentials_user(request: Request) -> Any:
    """The user whose username and password are in the body; 400 naming the fields otherwise,
    429 while failed sign-ins for the account or from the client make it wait (api.login_throttle)."""
    serializer = LoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    user = authenticate(request._request, **serializer.validated_data)
    if user is None:
        refusal = refusal_of(request._request)
        if refusal is not None:
            raise SignInThrottled(refusal)
        raise InvalidCredentials()
    return user


class LoginView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=LoginSerializer, responses={200: UserSerializer})
    def post(self, request: Request) -> Response:
        user = _credentials_user(request)
        login(request._request, user)
        return Response(UserSerializer(user).data)


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionView(APIView):
    """Who is signed in: ``{"user": {...}}`` or ``{"user": null}``, always 200.

    The browser asks this on every page load; a visitor who is not signed in is not an error.
    """

    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("Session", {"user": UserSerializer(allow_null=True)}))
    def get(self, request: Request) -> Response:
        user = request.user if request.user.is_authenticated else None
        return Response({"user": UserSerializer(user).data if user else None})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class TokenView(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``)."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        token, _ = Token.objects.get_or_create(user=_credentials_user(request))
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        """Revoke the caller's token."""
        if not request.user.is_authenticated:
            return Response({"detail": "Authentication credentials were not provided."}, status=401)
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class UnlockSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=2000)


_UNLOCKED = inline_serializer("Unlocked", {"detail": serializers.CharField()})


class UnlockView(APIView):
    """Clears a sign-in lock with the token from the link mailed to the account's owner.

    GET is what the mailed link opens; POST ``{"token": ...}`` is the same for scripts. A GET that
    changes state is deliberate: the token clears only the lock it was mailed for, once, so a mail
    scanner opening the link can do no more than the owner was offered."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(parameters=[OpenApiParameter("token", str, required=True)], responses=_UNLOCKED)
    def get(self, request: Request) -> Response:
        return self._unlock(request.query_params)

    @extend_schema(request=UnlockSerializer, responses=_UNLOCKED)
    def post(self, request: Request) -> Response:
        return self._unlock(request.data)

    @staticmethod
    def _unlock(data: Any) -> Response:
        serializer = UnlockSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        try:
            username = unlock(serializer.validated_data["token"])
        except UnlockTokenError as exc:
            raise serializers.ValidationError({"token": [str(exc)]}) from exc
        return Response({"detail": f"Signing in to {username} is unlocked: you can sign in again."})
