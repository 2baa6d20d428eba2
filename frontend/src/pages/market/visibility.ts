import type { Visibility } from "../../api/market";

export const VISIBILITY_TEXT: Readonly<Record<Visibility, string>> = {
  private: "Private: only you",
  organization: "Organization: members of the project",
  public: "Public: everyone here",
};

export const VISIBILITY_OPTIONS = (Object.keys(VISIBILITY_TEXT) as Visibility[]).map((value) => ({ value, label: VISIBILITY_TEXT[value] }));
