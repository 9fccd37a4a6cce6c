using Microsoft.Playwright;

namespace Coffer.Tests;

public sealed class DashboardTests : BrowserTest
{
    [Fact]
    public async Task AnOperatorSignsInAndFindsACustomer()
    {
        (await Api.Post("/v1/customers", new { external_id = "acme", name = "Acme Corp", email = "billing@acme.test" })).Ok(201);
        (await Api.Post("/v1/customers", new { external_id = "globex", name = "Globex" })).Ok(201);

        var page = await SignedInOperatorAsync();
        await ScreenshotAsync(page, "dashboard-customers");
        await page.GetByLabel("Search by name").FillAsync("acme");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Acme Corp" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Globex" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task AWrongPasswordIsRefused()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/dashboard");
        await page.GetByLabel("Email").FillAsync(AdminEmail);
        await page.GetByLabel("Password").FillAsync("wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Wrong email or password");
    }
}
