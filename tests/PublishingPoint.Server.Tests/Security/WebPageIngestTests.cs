using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// Open ingest (no secret: the loopback default, or AllowAnonymousIngest) is for encoders. A web page the operator
/// visits could push to it (a review's finding): a POST with a plain body needs no CORS preflight, so the browser sends
/// it for any page, and the page could make points until MaxPoints or feed a live point ahead of its encoder.
/// Browsers send an Origin header with every such request and encoders none: without the secret, those are refused.
/// </summary>
public sealed class WebPageIngestTests
{
    [Fact]
    public async Task APageOnAnotherOrigin_CannotPushToAServerWithoutASecret_AnEncoderStillCan()
    {
        await using var server = await RunningServer.StartAsync();
        var capture = await IsmvCapture.SixSecondsAsync();
        var registry = server.Services.GetRequiredService<PointRegistry>();

        using var playwright = await Playwright.CreateAsync();
        // As a public page in a browser that does not ask before it reaches a loopback address (Chromium's Local Network
        // Access check off, as Firefox and Safari are).
        await using var browser = await Chromium.LaunchAsync(playwright, "--disable-features=LocalNetworkAccessChecks");
        var (page, _) = await Chromium.OpenPlayerPageAsync(browser, new Uri($"http://localhost:{server.BaseUrl.Port}/"), new Dictionary<string, byte[]>(), "<!doctype html><p>a page</p>");
        var target = server.Url("live/web.isml/Streams(a)").ToString();
        var sent = await page.EvaluateAsync<bool>("""
            async ([url, base64]) => {
              const body = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              await fetch(url, { method: 'POST', mode: 'no-cors', body });
              return true;
            }
            """, new object[] { target, Convert.ToBase64String(capture) });
        Assert.True(sent);
        Assert.Null(registry.Find("live/web.isml"));

        // What the browser sent, answered: 403 and why.
        using var request = new HttpRequestMessage(HttpMethod.Post, "live/web.isml/Streams(a)") { Content = new ByteArrayContent(capture) };
        request.Headers.Add("Origin", $"http://localhost:{server.BaseUrl.Port}");
        using var refused = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("web page", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(registry.Find("live/web.isml"));

        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/web.isml/Streams(a)", capture)).Status);
        Assert.NotNull(registry.Find("live/web.isml"));
    }

    [Fact]
    public async Task WithTheSecret_ARequestWithAnOrigin_IsAnsweredOnTheSecret()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:IngestSecret=page-secret");
        var capture = await IsmvCapture.SixSecondsAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "live/webok.isml/Streams(a)?token=page-secret") { Content = new ByteArrayContent(capture) };
        request.Headers.Add("Origin", "https://encoder.example");
        using var answer = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }
}
