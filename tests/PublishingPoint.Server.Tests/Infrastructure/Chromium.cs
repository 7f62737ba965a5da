using Microsoft.Playwright;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright (no browser download), started the way this machine needs, and the
/// player scripts that npm put in Browser/node_modules.
/// </summary>
public static class Chromium
{
    /// <param name="extraArgs">More command-line switches, e.g. to switch off a browser feature a test does not exercise.</param>
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright, params string[] extraArgs)
    {
        ArgumentNullException.ThrowIfNull(playwright);
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required", .. extraArgs],
        });
    }

    /// <summary>A file of an npm package of tests/PublishingPoint.Server.Tests/Browser, e.g. ("hls.js", "dist/hls.min.js").</summary>
    public static byte[] NodeModule(string package, string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Browser", "node_modules", package, file);
            if (File.Exists(candidate))
            {
                return File.ReadAllBytes(candidate);
            }
        }

        throw new FileNotFoundException($"{package}/{file} not found: run `npm ci` in tests/PublishingPoint.Server.Tests/Browser");
    }

    /// <summary>
    /// A page with a player script, fulfilled by a route on the media's own origin: Chromium refuses a page from any
    /// other origin (even "localhost") access to 127.0.0.1, so CORS is tested by headers elsewhere. The log
    /// collects the console and every 4xx/5xx response.
    /// </summary>
    public static Task<(IPage Page, List<string> Log)> OpenPlayerPageAsync(IBrowser browser, Uri origin, string scriptName, byte[] script, string html) =>
        OpenPlayerPageAsync(browser, origin, new Dictionary<string, byte[]> { [scriptName] = script }, html);

    /// <summary>The same with several scripts, by file name.</summary>
    public static async Task<(IPage Page, List<string> Log)> OpenPlayerPageAsync(IBrowser browser, Uri origin, IReadOnlyDictionary<string, byte[]> scripts, string html)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var page = await browser.NewPageAsync();
        var log = new List<string>();
        page.Console += (_, message) => log.Add(message.Text);
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                log.Add($"{response.Status} {response.Url}");
            }
        };
        var pageBase = new Uri(origin, "/page").ToString();
        await page.RouteAsync(pageBase + "/**", route => scripts.FirstOrDefault(s => route.Request.Url.EndsWith("/" + s.Key, StringComparison.Ordinal)) is { Value: { } script }
            ? route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "application/javascript", BodyBytes = script })
            : route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "text/html", Body = html }));
        await page.GotoAsync(pageBase + "/index.html");
        return (page, log);
    }
}
