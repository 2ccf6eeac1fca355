// The shapes of values that both the configuration and the contract check: written once
// as JSON-schema patterns (what Ajv and the OpenAPI document take), compiled where code
// tests them by hand.

/** A chatbot id (serialNumber): 1-128 characters of A-Z a-z 0-9 _ -. */
export const SERIAL_NUMBER_PATTERN = '^[A-Za-z0-9_-]{1,128}$'
export const SERIAL_NUMBER = new RegExp(SERIAL_NUMBER_PATTERN)

/** An API key: at least 8 visible ASCII characters (secrets.ts says why), no spaces. */
export const API_KEY_PATTERN = '^[\\x21-\\x7e]{8,}$'
export const API_KEY = new RegExp(API_KEY_PATTERN)

// A compact JWS: three base64url segments joined by dots (the last one empty for an unsigned
// `alg: none` token, which is then refused as a visitor token, not taken for a client's).
// A bearer value of this shape is a visitor token when they are configured, so no client
// token may have it.
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
