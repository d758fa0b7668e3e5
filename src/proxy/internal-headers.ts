/**
 * Headers that mean something between silo's proxy, its waker and its workers, never
 * from a client: the proxy overwrites every one of them on every request it sends to a
 * worker or the waker (a client's `X-Silo-Method: GET` must not make the waker replay a
 * POST that reached a worker), and sets the forwarding headers itself from the peer
 * address (a client's own X-Forwarded-For is dropped, not extended).
 */
export const INTERNAL_HEADERS = ['X-Silo-Tenant', 'X-Silo-Method', 'X-Silo-Connect', 'X-Silo-Body', 'X-Silo-Woke-Ms'] as const;

/** Forwarding headers a client might send that no worker should believe; set or cleared by the proxy. */
export const CLEARED_FORWARDING = ['Forwarded', 'X-Forwarded-Port', 'X-Forwarded-Prefix', 'X-Forwarded-Server', 'X-Original-URL', 'X-Rewrite-URL'] as const;
