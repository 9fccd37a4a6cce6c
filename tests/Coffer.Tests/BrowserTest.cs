using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>
/// A Coffer served by Kestrel on 127.0.0.1 and a headless Debian Chromium driven by Playwright (no browser
/// download: the executable is /usr/bin/chromium, installed by ./test.sh). Screenshots of the screens a test
/// visits go to artifacts/screenshots at the repository root.
/// </summary>
public abstract class BrowserTest : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    public const string AdminEmail = "admin@merchant.test";
    public const string AdminPassword = "correct horse battery staple";

    protected CofferApp App { get; private set; } = null!;
    protected HttpClient Api { get; private set; } = null!;
    protected string BaseUrl { get; private set; } = "";
    readonly List<IBrowserContext> _contexts = [];

    // One Playwright driver and one Chromium serve the whole run (starting them costs more CPU than most tests);
    // each test works in browser contexts of its own, which share no cookies, storage or cache, closed when it ends.
    static readonly SemaphoreSlim Launching = new(1, 1);
    static IPlaywright? _playwright;
    static IBrowser? _browser;

    static async Task<IBrowser> SharedBrowserAsync()
    {
        await Launching.WaitAsync();
        try
        {
            if (_browser is { IsConnected: true }) return _browser;
            if (!File.Exists(Chromium)) throw new InvalidOperationException($"{Chromium} is missing: ./test.sh installs Debian's chromium");
            _playwright ??= await Microsoft.Playwright.Playwright.CreateAsync();
            return _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
            });
        }
        finally { Launching.Release(); }
    }

    public virtual Task InitializeAsync()
    {
        App = new CofferApp(Store.Sqlite, kestrel: true, adminEmail: AdminEmail, adminPassword: AdminPassword);
        App.StartServer();
        BaseUrl = App.KestrelAddress;
        Api = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        Api.DefaultRequestHeaders.Add("x-api-key", App.ApiKey);
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var context in _contexts) await context.CloseAsync();
        Api.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>A browser context of this test's own on the shared Chromium, at the test's Coffer.</summary>
    protected async Task<IBrowserContext> NewContextAsync(BrowserNewContextOptions? options = null)
    {
        options ??= new BrowserNewContextOptions();
        options.BaseURL ??= BaseUrl;
        var context = await (await SharedBrowserAsync()).NewContextAsync(options);
        lock (_contexts) _contexts.Add(context);
        return context;
    }

    /// <summary>The invariants of DESIGN.md section 4, checked over everything a test did.</summary>
    protected async Task AssertLedgerHoldsAsync()
    {
        var report = await App.VerifyAsync();
        Assert.True(report.Ok, "ledger invariants violated:\n" + string.Join("\n", report.Problems));
    }

    protected async Task<IPage> NewPageAsync(int width = 1280, int height = 900) =>
        await (await NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } })).NewPageAsync();

    protected async Task<IPage> SignedInOperatorAsync()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/dashboard");
        await page.GetByLabel("Email").FillAsync(AdminEmail);
        await page.GetByLabel("Password").FillAsync(AdminPassword);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await ReachedAsync(page, "**/dashboard");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToBeVisibleAsync();
        return page;
    }

    /// <summary>
    /// Waits until the page's address matches, counted from the moment its navigation commits. Waiting for the load
    /// event as well once timed out in CI after a redirect although the page was there (Playwright logged the network
    /// idle, never the load), so a test waits next for the element it needs, as locators and Expect do.
    /// </summary>
    protected static Task ReachedAsync(IPage page, string url) =>
        page.WaitForURLAsync(url, new() { WaitUntil = WaitUntilState.Commit });

    /// <summary>Saves a full-page screenshot as a test artifact, named for the screen.</summary>
    protected static async Task ScreenshotAsync(IPage page, string name)
    {
        var dir = Path.Combine(CofferProcess.Repository(), "artifacts", "screenshots");
        Directory.CreateDirectory(dir);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, name + ".png"), FullPage = true });
    }
}
