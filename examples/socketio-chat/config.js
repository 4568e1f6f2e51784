// Reads the example's settings from the environment. Every problem is named
// with the variable, the value and what is expected, and ends the process
// with exit code 2 before anything listens.
import { existsSync } from "node:fs";

// cfg holds the settings once server.js has read them.
export const cfg = {};

export function readConfig(env, { page, fallbackPage }) {
  const problems = [];
  const int = (name, def, min, max) => {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (def === undefined) problems.push(`${name} is not set: want a number ${min}-${max}`);
      return def;
    }
    const v = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || v < min || v > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: want a whole number ${min}-${max}`);
      return def;
    }
    return v;
  };
  const cfg = {
    port: int("PORT", undefined, 0, 65535),
    host: env.HOST || "127.0.0.1",
    name: env.LAB_NODE_NAME || "socketio-chat",
    redisURL: env.REDIS_URL || "redis://127.0.0.1:6379/0",
    graceMs: int("SHUTDOWN_GRACE_MS", 0, 0, 3_600_000),
    pingInterval: int("PING_INTERVAL_MS", 25000, 1, 3_600_000),
    pingTimeout: int("PING_TIMEOUT_MS", 20000, 1, 3_600_000),
    allowedOrigins: (env.ALLOWED_ORIGINS || "").split(",").map((s) => s.trim()).filter(Boolean),
    pageDir: env.PAGE_DIR || (existsSync(page) ? page : fallbackPage),
  };
  if (!/^rediss?:\/\//.test(cfg.redisURL)) problems.push(`REDIS_URL=${JSON.stringify(cfg.redisURL)}: want redis://host:port/db`);
  if (env.PAGE_DIR && !existsSync(env.PAGE_DIR)) problems.push(`PAGE_DIR=${JSON.stringify(env.PAGE_DIR)}: no such directory`);
  if (problems.length) {
    for (const p of problems) console.error(`socketio-chat: ${p}`);
    process.exit(2);
  }
  return cfg;
}
