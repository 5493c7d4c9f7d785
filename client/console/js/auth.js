// Cognito sign-in from the browser: USER_PASSWORD_AUTH, then REFRESH_TOKEN_AUTH a minute before
// the tokens expire, both one InitiateAuth call posted to the user pool's endpoint (Cognito's
// regional endpoint in AWS, the local stack's moto server locally; both answer CORS). As the
// Python client (exchange_client.auth), the API and the WebSocket API get the ACCESS token.
// Tokens are kept in memory only: a reload signs out.

const EARLY_MS = 60_000;

export class AuthError extends Error {}

export class CognitoAuth {
  constructor({ endpoint, clientId, region }) {
    const base = endpoint || `https://cognito-idp.${region}.amazonaws.com/`;
    this.endpoint = base.endsWith("/") ? base : `${base}/`;
    this.clientId = clientId;
    this.tokens = null;
    this.email = null;
    this.listeners = new Set();
    this.refreshTimer = 0;
  }

  get signedIn() {
    return this.tokens !== null;
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  async signIn(email, password) {
    const result = await this.initiate("USER_PASSWORD_AUTH", { USERNAME: email, PASSWORD: password });
    this.email = email;
    this.keep(result, null);
  }

  signOut() {
    clearTimeout(this.refreshTimer);
    this.tokens = null;
    this.email = null;
    this.emit();
  }

  // A valid access token (refreshed first when it is about to expire), or null when signed out.
  async accessToken() {
    if (!this.tokens) return null;
    if (Date.now() >= this.tokens.expiresAt - EARLY_MS) await this.refresh();
    return this.tokens ? this.tokens.accessToken : null;
  }

  async refresh() {
    if (!this.tokens || !this.tokens.refreshToken) throw new AuthError("not signed in");
    try {
      const result = await this.initiate("REFRESH_TOKEN_AUTH", { REFRESH_TOKEN: this.tokens.refreshToken });
      this.keep(result, this.tokens.refreshToken);
    } catch (error) {
      this.signOut();
      throw error;
    }
  }

  keep(result, refreshToken) {
    const auth = result.AuthenticationResult;
    if (!auth) throw new AuthError(`sign-in needs a challenge this console does not do: ${result.ChallengeName}`);
    const expiresIn = Number(auth.ExpiresIn || 3600) * 1000;
    this.tokens = {
      accessToken: auth.AccessToken,
      refreshToken: auth.RefreshToken || refreshToken,
      expiresAt: Date.now() + expiresIn,
    };
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), Math.max(expiresIn - EARLY_MS, 5_000));
    this.emit();
  }

  emit() {
    for (const listener of this.listeners) listener(this);
  }

  async initiate(flow, parameters) {
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
        body: JSON.stringify({ AuthFlow: flow, ClientId: this.clientId, AuthParameters: parameters }),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new AuthError(`Cognito is unreachable: ${error.message}`);
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      // Cognito's errors: {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}
      throw new AuthError(payload.message || payload.Message || `sign-in failed (${response.status})`);
    }
    return payload;
  }
}
