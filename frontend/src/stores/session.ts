import { create } from "zustand";

import * as auth from "../api/auth";
import type { SignInInput, SignUpInput, User } from "../api/auth";

/** "unknown" until the first check of who is signed in has finished. */
export type SessionStatus = "unknown" | "loading" | "ready";

export interface SessionState {
  user: User | null;
  status: SessionStatus;
  /** Asks the server who is signed in; a failure counts as signed out. */
  load: () => Promise<void>;
  /** Signs in; rejects with an ApiError the form can show. */
  signIn: (input: SignInInput) => Promise<User>;
  /** Creates an account and signs it in; rejects with an ApiError the form can show. */
  signUp: (input: SignUpInput) => Promise<User>;
  signOut: () => Promise<void>;
}

export const initialSessionState: Pick<SessionState, "user" | "status"> = {
  user: null,
  status: "unknown",
};

export const useSession = create<SessionState>()((set, get) => ({
  ...initialSessionState,

  load: async () => {
    if (get().status === "loading") return;
    set({ status: "loading" });
    try {
      set({ user: await auth.fetchCurrentUser(), status: "ready" });
    } catch {
      set({ user: null, status: "ready" });
    }
  },

  signIn: async (input) => {
    const user = await auth.signIn(input);
    set({ user, status: "ready" });
    return user;
  },

  signUp: async (input) => {
    const user = await auth.signUp(input);
    set({ user, status: "ready" });
    return user;
  },

  signOut: async () => {
    try {
      await auth.signOut();
    } finally {
      // Even if the request failed, stop showing this user's data in this tab.
      set({ user: null, status: "ready" });
    }
  },
}));
