import { type FormEvent, useState } from "react";
import { Link, useLocation } from "react-router-dom";

import { ErrorAlert } from "../../components/ErrorAlert";
import { TextField } from "../../components/FormField";
import { useFormSubmit } from "../../hooks/useFormSubmit";
import { useSession } from "../../stores/session";

export type AuthMode = "sign-in" | "sign-up";

const SIGN_IN_FIELDS = ["username", "password"] as const;
const SIGN_UP_FIELDS = ["username", "email", "password"] as const;

interface AuthPageProps {
  mode: AuthMode;
}

/**
 * Sign in or sign up. On success the session store holds the user and the `GuestOnly` route
 * guard moves on to where the visitor was headed (the projects list by default).
 */
export function AuthPage({ mode }: AuthPageProps) {
  const isSignUp = mode === "sign-up";
  const signIn = useSession((state) => state.signIn);
  const signUp = useSession((state) => state.signUp);
  const { submitting, errors, submit } = useFormSubmit(isSignUp ? SIGN_UP_FIELDS : SIGN_IN_FIELDS);
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");

  const handleSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void submit(() =>
      isSignUp
        ? signUp({ username, password, ...(email.trim() ? { email: email.trim() } : {}) })
        : signIn({ username, password }),
    );
  };

  return (
    <div className="page page--narrow">
      <div className="card auth-card">
        <h1>{isSignUp ? "Create your account" : "Sign in"}</h1>
        <p className="muted">Design, train and deploy deep learning models on a visual canvas.</p>
        <ErrorAlert message={errors.general} />
        <form className="form" onSubmit={handleSubmit} noValidate aria-busy={submitting}>
          <TextField
            label="Username"
            name="username"
            autoComplete="username"
            required
            autoFocus
            value={username}
            onChange={(event) => setUsername(event.target.value)}
            errors={errors.fields.username}
          />
          {isSignUp && (
            <TextField
              label="Email"
              name="email"
              type="email"
              hint="Optional."
              autoComplete="email"
              value={email}
              onChange={(event) => setEmail(event.target.value)}
              errors={errors.fields.email}
            />
          )}
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete={isSignUp ? "new-password" : "current-password"}
            required
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            errors={errors.fields.password}
          />
          <button type="submit" className="button button--primary button--block" disabled={submitting}>
            {isSignUp ? "Sign up" : "Sign in"}
          </button>
        </form>
        <p className="auth-card__switch">
          {isSignUp ? (
            <>
              Already have an account?{" "}
              <Link to="/sign-in" state={location.state}>
                Sign in
              </Link>
            </>
          ) : (
            <>
              New here?{" "}
              <Link to="/sign-up" state={location.state}>
                Create an account
              </Link>
            </>
          )}
        </p>
      </div>
    </div>
  );
}
