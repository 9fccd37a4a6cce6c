import type { Transport } from "./transport.js";
import type { CallOptions, ClientConfig } from "./types.js";

/** `client_config`: the web origins whose pages may call the customer API (CORS). */
export class ClientConfigSetting {
  constructor(private readonly t: Transport) {}

  get(options: CallOptions = {}): Promise<ClientConfig> {
    return this.t.request("get", "/v1/settings/client_config", { signal: options.signal });
  }

  /** Replaces the allowed origins (`https://app.example.com`: scheme, host, optional port; at most 20; [] allows none). */
  put(allowedOrigins: readonly string[], options: CallOptions = {}): Promise<ClientConfig> {
    return this.t.request("put", "/v1/settings/client_config", {
      body: { value: { allowed_origins: [...allowedOrigins] } },
      signal: options.signal,
    });
  }
}

/** The tenant's settings. */
export class Settings {
  readonly clientConfig: ClientConfigSetting;

  constructor(t: Transport) {
    this.clientConfig = new ClientConfigSetting(t);
  }
}
