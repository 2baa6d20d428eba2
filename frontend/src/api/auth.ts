import { api, forgetCsrfToken, unwrap } from "./client";
import type { Schemas } from "./types";

export type User = Schemas["User"];

/** Another user, as other resources refer to them. */
export type UserRef = Schemas["UserRef"];

export type SignUpInput = Schemas["SignUpRequest"];

export type SignInInput = Schemas["LoginRequest"];

/** The signed-in user, or null when nobody is signed in (a 200 either way: no console noise). */
export async function fetchCurrentUser(signal?: AbortSignal): Promise<User | null> {
  const session = await unwrap(api.GET("/api/v1/auth/session/", { signal }));
  return session.user;
}

/** Creates an account and signs it in. */
export async function signUp(input: SignUpInput): Promise<User> {
  const user = await unwrap(api.POST("/api/v1/auth/signup/", { body: input }));
  forgetCsrfToken();
  return user;
}

export async function signIn(input: SignInInput): Promise<User> {
  const user = await unwrap(api.POST("/api/v1/auth/login/", { body: input }));
  forgetCsrfToken();
  return user;
}

export async function signOut(): Promise<void> {
  await unwrap(api.POST("/api/v1/auth/logout/"));
  forgetCsrfToken();
}
