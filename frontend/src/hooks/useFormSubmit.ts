import { useCallback, useState } from "react";

import { ApiError, type FieldErrors } from "../api/client";

export interface FormErrors {
  /** Shown above the form in an alert: messages that belong to no field on this form. */
  general: string | null;
  /** Shown under each field; only fields this form has. */
  fields: FieldErrors;
}

export const noFormErrors: FormErrors = { general: null, fields: {} };

/**
 * Splits a failed request's errors between the fields a form shows and a general message.
 * Errors for fields the form does not have join the general message so none are lost.
 */
export function toFormErrors(error: unknown, formFields: readonly string[]): FormErrors {
  if (!(error instanceof ApiError)) {
    return { general: error instanceof Error ? error.message : "Something went wrong.", fields: {} };
  }
  const fields: FieldErrors = {};
  const general: string[] = error.detail === null ? [] : [error.detail];
  for (const [field, messages] of Object.entries(error.fieldErrors)) {
    if (formFields.includes(field)) fields[field] = messages;
    else general.push(...messages.map((message) => `${field}: ${message}`));
  }
  if (general.length === 0 && Object.keys(fields).length === 0) general.push(error.message);
  return { general: general.length > 0 ? general.join(" ") : null, fields };
}

export interface FormSubmit {
  submitting: boolean;
  errors: FormErrors;
  /** Runs the action, collecting its errors; resolves true when it succeeded. */
  submit: (action: () => Promise<unknown>) => Promise<boolean>;
}

/** Submission state for a form that posts to the API. `formFields` should be a constant. */
export function useFormSubmit(formFields: readonly string[]): FormSubmit {
  const [submitting, setSubmitting] = useState(false);
  const [errors, setErrors] = useState<FormErrors>(noFormErrors);

  const submit = useCallback(
    async (action: () => Promise<unknown>) => {
      setSubmitting(true);
      setErrors(noFormErrors);
      try {
        await action();
        return true;
      } catch (error) {
        setErrors(toFormErrors(error, formFields));
        return false;
      } finally {
        setSubmitting(false);
      }
    },
    [formFields],
  );

  return { submitting, errors, submit };
}
