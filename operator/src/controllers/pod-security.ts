/**
 * What every pod the operator creates runs with: the Pod Security "restricted" profile (non-root
 * user, RuntimeDefault seccomp, no privilege escalation, no capabilities) plus a read-only root
 * filesystem (a writable /tmp comes from an emptyDir) and no service-account token, since neither
 * the trainer nor the recommend API talks to the API server. Functions, not shared constants: each
 * built object owns its fields.
 */
export const RUNTIME_USER = 1000;

/** Spread into a pod spec. */
export function podSecurity() {
  return {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: RUNTIME_USER, runAsGroup: RUNTIME_USER, seccompProfile: { type: 'RuntimeDefault' } },
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };
}

/** Spread into the container that runs the program. */
export function containerSecurity() {
  return {
    securityContext: { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}
