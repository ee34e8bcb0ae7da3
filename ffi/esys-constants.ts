// ESAPI's own handle numbers (tss2_esys.h): ESYS_TR values stand for sessions and hierarchies
// in every Esys_* call. They are not TPM handles (those start at 0x40000000 and 0x81000000).

export const EsysTr = {
  /** No session / no object in this position. */
  NONE: 0xfff,
  /** The password session: authorise with the object's auth value (empty for us). */
  PASSWORD: 0x0ff,
  RH_OWNER: 0x101,
  RH_ENDORSEMENT: 0x10b,
} as const;

/** TPM2_SE: the kind of session StartAuthSession opens. */
export const SessionType = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** The three session arguments of a command that needs no authorisation. */
export const noSessions = [EsysTr.NONE, EsysTr.NONE, EsysTr.NONE] as const;

/** The three session arguments of a command whose one handle is authorised by its (empty) password. */
export const passwordSession = [EsysTr.PASSWORD, EsysTr.NONE, EsysTr.NONE] as const;
