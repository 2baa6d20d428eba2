interface ErrorAlertProps {
  message: string | null | undefined;
}

/** A form's or page's general error, announced by screen readers when it appears. */
export function ErrorAlert({ message }: ErrorAlertProps) {
  if (!message) return null;
  return (
    <div className="alert alert--error" role="alert">
      {message}
    </div>
  );
}
