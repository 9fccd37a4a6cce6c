import { CofferProvider } from "@coffer/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { WalletPage } from "./WalletPage.js";
import { loadConfig, tokenSource } from "./config.js";
import "./style.css";

const root = createRoot(document.getElementById("root")!);
try {
  const config = await loadConfig();
  root.render(
    <StrictMode>
      <CofferProvider baseUrl={config.coffer_url} getToken={tokenSource(config.token_url)}>
        <WalletPage />
      </CofferProvider>
    </StrictMode>,
  );
} catch (e) {
  root.render(<p role="alert">The wallet could not start: {e instanceof Error ? e.message : String(e)}</p>);
}
