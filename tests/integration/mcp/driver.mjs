// The official MCP TypeScript SDK's client, driven line by line by tests/integration/test_mcp.py.
//
// Usage: node driver.mjs TRANSCRIPT -- COMMAND [ARG...]
//
// Spawns the server (COMMAND ARG..., over stdio, with this process's environment), connects
// with the SDK's Client (initialize, protocol version negotiation, initialized), prints
//   {"op": "connected", "protocolVersion": ..., "server": ..., "capabilities": ..., "instructions": ...}
// and then serves commands, one JSON object per stdin line:
//   {"id": 1, "op": "list_tools"}
//   {"id": 2, "op": "call", "name": "query", "arguments": {...}}
// answering each with one line {"id": ..., "ok": true, "result": ...} (the SDK's own result:
// callTool validates structuredContent against the tool's outputSchema) or {"id", "ok": false,
// "error"}. Every JSON-RPC message in both directions is appended to TRANSCRIPT, so the test can
// check that no raw value ever crossed. Closes the session when stdin ends.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { appendFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

const argv = process.argv.slice(2);
const [transcript, separator, command, ...args] = argv;
if (separator !== "--" || !command) {
  console.error("usage: node driver.mjs TRANSCRIPT -- COMMAND [ARG...]");
  process.exit(2);
}
writeFileSync(transcript, "");
const record = (direction, message) =>
  appendFileSync(transcript, JSON.stringify({ direction, message }) + "\n");
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Records what crosses the wire, then hands it on unchanged.
class Tap {
  constructor(inner) {
    this.inner = inner;
  }
  async start() {
    this.inner.onmessage = (message, extra) => {
      record("server->client", message);
      this.onmessage?.(message, extra);
    };
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = () => this.onclose?.();
    return this.inner.start();
  }
  async send(message, options) {
    record("client->server", message);
    return this.inner.send(message, options);
  }
  async close() {
    return this.inner.close();
  }
  setProtocolVersion(version) {
    this.protocolVersion = version;
    this.inner.setProtocolVersion?.(version);
  }
}

const transport = new Tap(
  new StdioClientTransport({ command, args, env: { ...process.env }, stderr: "inherit" }),
);
const client = new Client({ name: "veil-it-agent", version: "1.0.0" });
await client.connect(transport);
emit({
  op: "connected",
  protocolVersion: transport.protocolVersion,
  server: client.getServerVersion(),
  capabilities: client.getServerCapabilities(),
  instructions: client.getInstructions(),
});

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  try {
    let result;
    if (cmd.op === "list_tools") {
      result = await client.listTools();
    } else if (cmd.op === "call") {
      result = await client.callTool(
        { name: cmd.name, arguments: cmd.arguments ?? {} },
        undefined,
        { timeout: 120000 },
      );
    } else {
      throw new Error(`unknown op ${cmd.op}`);
    }
    emit({ id: cmd.id, ok: true, result });
  } catch (e) {
    emit({ id: cmd.id, ok: false, error: String(e?.message ?? e) });
  }
}
await client.close();
