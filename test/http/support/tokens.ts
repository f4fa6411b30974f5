/** The HTTP suites' tokens: token → scopes. `none` authenticates with no scope at all. */
export const TOKENS: Record<string, string[]> = {
  admin: ['admin'],
  read: ['read'],
  write: ['write'],
  rw: ['read', 'write'],
  none: [],
};
