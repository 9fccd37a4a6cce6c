using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Coffer.Tests;

/// <summary>The wallet page's "Adjust balance" dialog, through the same operation as the API, in headless Chromium.</summary>
public sealed class AdjustmentDashboardTests : BrowserTest
{
    public override async Task DisposeAsync()
    {
        try { await AssertLedgerHoldsAsync(); }
        finally { await base.DisposeAsync(); }
    }

    async Task<decimal> CreditBalance(string walletId) => (await Api.Get($"/v1/wallets/{walletId}")).Ok().D("credit_balance");

    [Fact]
    public async Task AnOperatorAdjustsTheBalanceThroughTheDialogWithAReasonAndTheTableShowsWhoAndWhy()
    {
        var customer = (await Api.Post("/v1/customers", new { external_id = "hooli", name = "Hooli" })).Ok(201);
        var walletId = (await Api.Post("/v1/wallets", new { customer_id = customer.S("id"), currency = "usd", initial_credits_to_load = "20" })).Ok().S("id");
        var page = await SignedInOperatorAsync();
        await page.GotoAsync($"/dashboard/wallets/{walletId}");

        // Next to the top-up button; the dialog opens without leaving the page.
        await page.GetByRole(AriaRole.Button, new() { Name = "Adjust balance" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Adjust balance" });
        await Assertions.Expect(dialog).ToBeVisibleAsync();
        await dialog.GetByLabel("Remove credits").CheckAsync();
        await dialog.GetByLabel("Credits", new() { Exact = true }).FillAsync("5");
        await dialog.GetByLabel("Reason").FillAsync("Damaged shipment, order 7781");
        await ScreenshotAsync(page, "dashboard-adjust-dialog");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Adjust balance" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Balance adjusted.");
        Assert.Equal(15m, await CreditBalance(walletId));

        var row = page.Locator("table.transactions tbody tr").Filter(new() { HasText = "Manual adjustment" });
        await Assertions.Expect(row).ToHaveCountAsync(1);
        await Assertions.Expect(row.Locator(".kind")).ToHaveTextAsync("adjustment");
        await Assertions.Expect(row.Locator(".adjustment")).ToContainTextAsync("Reason: Damaged shipment, order 7781");
        await Assertions.Expect(row.Locator(".adjustment")).ToContainTextAsync($"by {AdminEmail}");
        await Assertions.Expect(row.Locator("td").Nth(5)).ToHaveTextAsync("\u22125");
        await ScreenshotAsync(page, "dashboard-adjustment-row");

        // A reason of spaces passes the browser's check, not the ledger's: the refusal is a message and nothing moves.
        await page.GetByRole(AriaRole.Button, new() { Name = "Adjust balance" }).ClickAsync();
        await dialog.GetByLabel("Credits", new() { Exact = true }).FillAsync("1");
        await dialog.GetByLabel("Reason").FillAsync("   ");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Adjust balance" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("reason is required");
        Assert.Equal(15m, await CreditBalance(walletId));

        // Beyond the balance: refused with the debit's message; the form keeps what was typed.
        await page.GetByLabel("Remove credits").CheckAsync();
        await page.GetByLabel("Credits", new() { Exact = true }).FillAsync("100");
        await page.GetByLabel("Reason").FillAsync("Too much");
        await page.GetByRole(AriaRole.Button, new() { Name = "Adjust balance" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("insufficient balance");
        await Assertions.Expect(page.GetByLabel("Reason")).ToHaveValueAsync("Too much");
        Assert.Equal(15m, await CreditBalance(walletId));

        // The filter by kind and the CSV say the same.
        await page.GotoAsync($"/dashboard/wallets/{walletId}?kind=adjustment");
        await Assertions.Expect(page.Locator("table.transactions tbody tr")).ToHaveCountAsync(1);
        var csv = await (await page.APIRequest.GetAsync($"/dashboard/wallets/{walletId}/transactions.csv")).TextAsync();
        var line = csv.Split("\r\n").Single(l => l.Contains(",MANUAL_ADJUSTMENT,", StringComparison.Ordinal));
        Assert.Contains($",debit,adjustment,\"Damaged shipment, order 7781\",{AdminEmail},MANUAL_ADJUSTMENT,", line);
        var entry = (await Api.Get($"/v1/wallets/{walletId}/transactions?kind=adjustment")).Ok()["items"]![0]!;
        Assert.Equal(("operator", AdminEmail), (entry["adjustment"].S("actor_type"), entry["adjustment"].S("actor_name")));
    }
}
