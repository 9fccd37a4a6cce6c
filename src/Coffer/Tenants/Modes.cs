namespace Coffer.Tenants;

/// <summary>
/// Whether a tenant's money is real. A tenant is in test mode or in live mode, as a Stripe account's keys are, and
/// as Flexprice's environments are development or production. In test mode the sandbox gateway takes its published
/// test cards and Stripe only test keys; in live mode the sandbox does not exist and Stripe takes only live keys, so
/// money that was never paid cannot become credits a customer spends. A tenant starts in test mode and goes live
/// once, before any money has moved (<see cref="TenantStore.GoLiveAsync"/>); it never goes back.
/// </summary>
public static class Modes
{
    public const string Test = "test";
    public const string Live = "live";

    /// <summary>Flexprice's environment type for a mode.</summary>
    public static string EnvironmentType(string mode) => mode == Live ? "production" : "development";

    /// <summary>The header Flexprice's clients name an environment with; a request naming another tenant's is refused.</summary>
    public const string EnvironmentHeader = "X-Environment-ID";
}

/// <summary>What asking a tenant to go live did.</summary>
public enum GoLiveOutcome
{
    WentLive,
    AlreadyLive,
    NotFound,
    /// <summary>Money has already moved in test mode: those credits and payments would count as real ones.</summary>
    MoneyMoved,
}
