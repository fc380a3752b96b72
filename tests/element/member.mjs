// Members' Matrix clients on Element's own crypto, driven by tests/element over stdin/stdout.
//
// matrix-js-sdk with its Rust crypto (initRustCrypto: @matrix-org/matrix-sdk-crypto-wasm,
// the engine of Element Web) plays members, responders and their second devices, as
// Element does: password login (a new device), cross-signing and secret storage set up
// at the first login (a recovery key), later devices signed with that recovery key, and
// "exclude insecure devices" (OnlySignedDevicesIsolationMode) on. A request is one JSON line on stdin, {"id", "op", ...}; its answer one JSON line
// on stdout, {"id", "ok": true, ...} or {"id", "error"}. Requests run concurrently.
// Every wait is bounded by the request's timeoutMs. Logs go to stderr, never to stdout.
//
// Ops: login, crossSignDevice, signedByOwner, join, send, waitFor, stats, stop (see each).

import { createInterface } from "node:readline";

// The SDK asks for Node 22; Node 20 lacks only this.
if (!Promise.withResolvers) {
    Promise.withResolvers = function () {
        let resolve, reject;
        const promise = new Promise((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

// stdout carries the protocol only.
for (const name of ["log", "info", "debug", "warn", "error", "trace"]) {
    console[name] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
logger.setLevel(process.env.VECINOS_JS_LOG || "warn");

const clients = new Map(); // name -> Member
const recoveryKeys = new Map(); // user id -> its secret-storage key (the member's "recovery key")

class Member {
    constructor(name, client) {
        this.name = name;
        this.client = client;
        this.decrypted = []; // {eventId, roomId, sender, type, content, at, event}
        this.failures = new Map(); // eventId -> failure code (deleted once decrypted)
        this.failuresSeen = new Set(); // every event that failed at least once
        this.history = new Set(); // events from before this device existed
        this.loggedInAt = Date.now();
        this.sentAt = new Map(); // eventId -> performance.now() at send
        this.changed = new Set(); // resolvers woken at each decryption
        this.arrivedAt = new Map(); // eventId -> performance.now() when the sync brought it
        client.on(sdk.MatrixEventEvent.Decrypted, (event) => this.onDecrypted(event));
        client.on(sdk.ClientEvent.Event, (event) => {
            if (!this.arrivedAt.has(event.getId())) this.arrivedAt.set(event.getId(), performance.now());
        });
    }

    onDecrypted(event) {
        const id = event.getId();
        if (event.isDecryptionFailure()) {
            const code = String(event.decryptionFailureReason);
            if (code.startsWith("HISTORICAL_MESSAGE") && event.getTs() < this.loggedInAt) {
                // Sent before this device existed: Element too says it cannot read those
                // without a key backup. Not a failure of the sender.
                this.history.add(id);
                return;
            }
            this.failures.set(id, code);
            this.failuresSeen.add(id);
        } else {
            this.failures.delete(id);
            this.decrypted.push({
                eventId: id,
                roomId: event.getRoomId(),
                sender: event.getSender(),
                type: event.getType(),
                content: event.getContent(),
                at: performance.now(),
                event,
            });
        }
        for (const wake of this.changed) wake();
    }

    async changedOnce(deadline) {
        const left = deadline - performance.now();
        if (left <= 0) throw new Error("timed out");
        const { promise, resolve } = Promise.withResolvers();
        const timer = setTimeout(resolve, left);
        this.changed.add(resolve);
        try {
            await promise;
        } finally {
            clearTimeout(timer);
            this.changed.delete(resolve);
        }
    }
}

function need(name) {
    const member = clients.get(name);
    if (!member) throw new Error(`no client ${name}`);
    return member;
}

async function waitUntil(check, timeoutMs, what) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
        const got = await check();
        if (got) return got;
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

function passwordAuth(userId, password, session) {
    return { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password, session };
}

// login {name, baseUrl, user, password, crossSign, isolation}: a new device, as Element makes at login.
// crossSign "new": the member's first device sets up cross-signing (user-interactive auth with the
// password) and secret storage under a new recovery key, as Element's first login does;
// "recovery": a later device enters that recovery key, takes the cross-signing keys from secret
// storage and signs itself (Element's "Verify with Recovery Key"); "none": stays unsigned.
async function login(req) {
    const loggedInAt = Date.now();
    const anon = sdk.createClient({ baseUrl: req.baseUrl });
    const creds = await anon.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: req.user },
        password: req.password,
        initial_device_display_name: req.name,
    });
    const client = sdk.createClient({
        baseUrl: req.baseUrl,
        userId: creds.user_id,
        deviceId: creds.device_id,
        accessToken: creds.access_token,
        cryptoCallbacks: {
            getSecretStorageKey: async ({ keys }) => {
                // The one key this member made (its id is learnt when it is first asked for).
                const key = recoveryKeys.get(creds.user_id);
                if (!key) return null;
                key.keyId ??= Object.keys(keys)[0];
                return key.keyId in keys ? [key.keyId, key.privateKey] : null;
            },
        },
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const crypto = client.getCrypto();
    if (req.isolation !== "all") {
        crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());
    }
    const member = new Member(req.name, client);
    member.loggedInAt = loggedInAt;
    clients.set(req.name, member);
    const prepared = new Promise((resolve, reject) => {
        client.on(sdk.ClientEvent.Sync, (state) => {
            if (state === "PREPARED" || state === "SYNCING") resolve();
            if (state === "ERROR") reject(new Error("sync failed"));
        });
    });
    await client.startClient({ initialSyncLimit: 20, threadSupport: true });
    await prepared;
    if (req.crossSign === "recovery") {
        // The public keys first (the initial sync's key query), then the private ones to match.
        await waitUntil(
            () => crypto.userHasCrossSigningKeys(creds.user_id, true),
            req.timeoutMs ?? 30000,
            "the member's own cross-signing keys",
        );
        await crypto.bootstrapCrossSigning({});
    } else if (req.crossSign === "new") {
        await crypto.bootstrapCrossSigning({
            setupNewCrossSigning: true,
            authUploadDeviceSigningKeys: async (makeRequest) => {
                try {
                    await makeRequest(null);
                } catch (e) {
                    if (e.httpStatus !== 401 || !e.data?.flows) throw e;
                    await makeRequest(passwordAuth(creds.user_id, req.password, e.data.session));
                }
            },
        });
        const generated = await crypto.createRecoveryKeyFromPassphrase();
        recoveryKeys.set(creds.user_id, { keyId: null, privateKey: generated.privateKey });
        await crypto.bootstrapSecretStorage({
            setupNewSecretStorage: true,
            createSecretStorageKey: async () => generated,
        });
    }
    if (req.crossSign === "new" || req.crossSign === "recovery") {
        await signedByOwner({ ...req, userId: creds.user_id, deviceId: creds.device_id });
    }
    const own = await crypto.getDeviceVerificationStatus(creds.user_id, creds.device_id);
    return { userId: creds.user_id, deviceId: creds.device_id, signedByOwner: !!own?.signedByOwner };
}

// crossSignDevice {name, deviceId}: this (cross-signed) device signs another of its owner's
// devices, as Element does at the end of verifying a new login.
async function crossSignDevice(req) {
    const m = need(req.name);
    const crypto = m.client.getCrypto();
    const userId = m.client.getUserId();
    await waitUntil(
        async () => (await crypto.getUserDeviceInfo([userId], true)).get(userId)?.has(req.deviceId),
        req.timeoutMs ?? 30000,
        "the new device's keys",
    );
    await crypto.crossSignDevice(req.deviceId);
    return await signedByOwner({ ...req, userId });
}

// signedByOwner {name, userId, deviceId}: wait until this client sees that device signed by
// its owner (its view follows the homeserver's device-list updates).
async function signedByOwner(req) {
    const crypto = need(req.name).client.getCrypto();
    await waitUntil(
        async () => {
            await crypto.getUserDeviceInfo([req.userId], true);
            return (await crypto.getDeviceVerificationStatus(req.userId, req.deviceId))?.signedByOwner;
        },
        req.timeoutMs ?? 30000,
        `${req.deviceId} signed by its owner`,
    );
    return { signedByOwner: true };
}

// join {name, roomId}: accept the bot's invite once it has arrived.
async function join(req) {
    const m = need(req.name);
    const timeout = req.timeoutMs ?? 30000;
    await waitUntil(
        () => {
            const room = m.client.getRoom(req.roomId);
            return room && ["invite", "join"].includes(room.getMyMembership());
        },
        timeout,
        "the invite",
    );
    await m.client.joinRoom(req.roomId);
    await waitUntil(
        () => m.client.getCrypto().isEncryptionEnabledInRoom(req.roomId),
        timeout,
        "the joined room's encryption",
    );
    return {};
}

// send {name, roomId, body, thread?}: an m.text message (in a thread, as Element replies there).
async function send(req) {
    const m = need(req.name);
    const content = { msgtype: "m.text", body: req.body };
    if (req.thread) {
        content["m.relates_to"] = {
            rel_type: "m.thread",
            event_id: req.thread,
            is_falling_back: true,
            "m.in_reply_to": { event_id: req.thread },
        };
    }
    const started = performance.now();
    const { event_id: eventId } = await m.client.sendEvent(req.roomId, null, "m.room.message", content);
    m.sentAt.set(eventId, started);
    return { eventId };
}

function matches(d, req) {
    if (req.roomId && d.roomId !== req.roomId) return false;
    if (req.sender && d.sender !== req.sender) return false;
    if (req.type && d.type !== req.type) return false;
    if (req.after !== undefined && d.index <= req.after) return false;
    const relates = d.content["m.relates_to"] || {};
    if (req.inReplyTo && relates["m.in_reply_to"]?.event_id !== req.inReplyTo) return false;
    if (req.bodyStartsWith && !String(d.content.body || "").startsWith(req.bodyStartsWith)) return false;
    return true;
}

// waitFor {name, roomId?, sender?, inReplyTo?, bodyStartsWith?, after?}: the first decrypted event
// that matches, with its shield (getEncryptionInfoForEvent, as Element draws it) and, for an answer
// to one of our messages, the time from our send to its decryption.
async function waitFor(req) {
    const m = need(req.name);
    const deadline = performance.now() + (req.timeoutMs ?? 30000);
    for (;;) {
        const index = m.decrypted.findIndex((d, i) => matches({ ...d, index: i }, req));
        if (index >= 0) {
            const d = m.decrypted[index];
            const info = await m.client.getCrypto().getEncryptionInfoForEvent(d.event);
            const sent = req.inReplyTo ? m.sentAt.get(req.inReplyTo) : undefined;
            return {
                index,
                eventId: d.eventId,
                content: d.content,
                shieldColour: cryptoApi.EventShieldColour[info.shieldColour],
                shieldReason: info.shieldReason === null ? null : cryptoApi.EventShieldReason[info.shieldReason],
                roundTripMs: sent === undefined ? null : d.at - sent,
                // From the encrypted event's arrival in a sync to its decryption.
                decryptMs: m.arrivedAt.has(d.eventId) ? d.at - m.arrivedAt.get(d.eventId) : null,
            };
        }
        await m.changedOnce(deadline);
    }
}

// stats {name}: decrypted events, and those that failed (still failing, or failed at least once).
async function stats(req) {
    const m = need(req.name);
    return {
        decrypted: m.decrypted.length,
        undecryptable: m.failures.size,
        failureCodes: [...new Set(m.failures.values())],
        failedOnce: m.failuresSeen.size,
        beforeThisDevice: m.history.size,
    };
}

async function stop(req) {
    const m = need(req.name);
    m.client.stopClient();
    clients.delete(req.name);
    return {};
}

const ops = { login, crossSignDevice, signedByOwner, join, send, waitFor, stats, stop };

function answer(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
    let req;
    try {
        req = JSON.parse(line);
    } catch {
        answer({ id: null, error: "not JSON" });
        return;
    }
    const op = ops[req.op];
    if (!op) {
        answer({ id: req.id, error: `unknown op ${req.op}` });
        return;
    }
    op(req).then(
        (result) => answer({ id: req.id, ok: true, ...result }),
        (e) => answer({ id: req.id, error: String(e?.stack || e) }),
    );
});
lines.on("close", () => {
    for (const m of clients.values()) m.client.stopClient();
    process.exit(0);
});
answer({ id: 0, ok: true, ready: true });
