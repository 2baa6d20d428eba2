import { apiRequest, forgetCsrfToken } from "./client";

export interface User {
  id: number;
  username: string;
  email: string;
}

/** Another user, as other resources refer to them. */
export interface UserRef {
  id: number;
  username: string;
}

export interface SignUpInput {
  username: string;
  email?: string;
  password: string;
}

export interface SignInInput {
  username: string;
  password: string;
}

const AUTH = "/api/v1/auth";

/** The signed-in user, or null when nobody is signed in (a 200 either way: no console noise). */
export async function fetchCurrentUser(signal?: AbortSignal): Promise<User | null> {
  const session = await apiRequest<{ user: User | null }>(`${AUTH}/session/`, { signal });
  return session.user;
}

/** Creates an account and signs it in. */
export async function signUp(input: SignUpInput): Promise<User> {
  const user = await apiRequest<User>(`${AUTH}/signup/`, { method: "POST", body: input });
  forgetCsrfToken();
  return user;
}

export async function signIn(input: SignInInput): Promise<User> {
  const user = await apiRequest<User>(`${AUTH}/login/`, { method: "POST", body: input });
  forgetCsrfToken();
  return user;
}

export async function signOut(): Promise<void> {
  await apiRequest<void>(`${AUTH}/logout/`, { method: "POST" });
  forgetCsrfToken();
}
