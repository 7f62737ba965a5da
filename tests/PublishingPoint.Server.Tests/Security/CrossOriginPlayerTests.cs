using System.Globalization;
using System.Net;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// A customer's page on another web origin plays from the server in Chromium: dash.js with its Smooth Streaming
/// support loads the Smooth Manifest and its fragments cross-origin (the page is http://localhost:{port}, the media
/// http://127.0.0.1:{port}: another origin to the browser), which needs CORS on every one of those answers.
/// </summary>
public sealed class CrossOriginPlayerTests
{
    [Fact]
    public async Task DashJsSmoothSupport_OnAnotherOrigin_PlaysTheSmoothManifest()
    {
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/xo.isml/Streams(a)", await IsmvCapture.SixSecondsAsync())).Status);
        var manifest = server.Url("live/xo.isml/Manifest");
        var pageOrigin = new Uri($"http://localhost:{server.BaseUrl.Port}/");
        var scripts = DashJsSmoothPage.Scripts();

        using var playwright = await Playwright.CreateAsync();
        // Chromium asks the user before a page reaches a loopback address (Local Network Access); a customer's page and
        // a public origin are not in that case, so the check is off here and CORS is what decides.
        await using var browser = await Chromium.LaunchAsync(playwright, "--disable-features=LocalNetworkAccessChecks");
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, pageOrigin, scripts, DashJsSmoothPage.Html(manifest));
        var requests = new EventLineCollection();
        page.Request += (_, request) => requests.Add(request.Url);
        Assert.Equal($"http://localhost:{server.BaseUrl.Port}", await page.EvaluateAsync<string>("location.origin"));

        var (time, errors) = await DashJsSmoothPage.PlayUntilAsync(page, 4, TimeSpan.FromSeconds(30));

        var describe = string.Create(CultureInfo.InvariantCulture, $"currentTime {time:0.00}, errors [{errors}], console:\n{string.Join('\n', log)}");
        Assert.True(time >= 4 && errors.Length == 0, describe);
        Assert.Contains(requests, r => r.StartsWith(server.BaseUrl.ToString(), StringComparison.Ordinal) && r.Contains("/Fragments(", StringComparison.Ordinal));
    }
}
