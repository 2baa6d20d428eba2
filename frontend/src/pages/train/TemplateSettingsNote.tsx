import { type Recommendation, describeValues } from "./templateSettings";

export interface TemplateSettingsNoteProps {
  recommendation: Recommendation;
  /** Whether the form holds the recommended settings (false: the plain defaults). */
  applied: boolean;
  onApply: () => void;
  onPlain: () => void;
}

/** Says which settings the graph's template filled in, with a way back to the plain defaults (and forth). */
export function TemplateSettingsNote({ recommendation, applied, onApply, onPlain }: TemplateSettingsNoteProps) {
  const settings = describeValues(recommendation.values);
  return (
    <div className="alert alert--info template-settings" role="note" data-testid="template-settings">
      {applied ? (
        <>
          Settings recommended by the {recommendation.templateName} template: {settings}.{" "}
          <button type="button" className="button button--small button--secondary" onClick={onPlain}>
            Use plain defaults
          </button>
        </>
      ) : (
        <>
          Plain defaults. The {recommendation.templateName} template recommends {settings}.{" "}
          <button type="button" className="button button--small button--secondary" onClick={onApply}>
            Use recommended settings
          </button>
        </>
      )}
    </div>
  );
}
