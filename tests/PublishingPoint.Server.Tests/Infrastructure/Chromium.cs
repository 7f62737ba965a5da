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
    public static Task<(IPage Page, EventLineCollection Log)> OpenPlayerPageAsync(IBrowser browser, Uri origin, string scriptName, byte[] script, string html) =>
        OpenPlayerPageAsync(browser, origin, new Dictionary<string, byte[]> { [scriptName] = script }, html);

    /// <summary>The same with several scripts, by file name.</summary>
    public static async Task<(IPage Page, EventLineCollection Log)> OpenPlayerPageAsync(IBrowser browser, Uri origin, IReadOnlyDictionary<string, byte[]> scripts, string html)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var page = await browser.NewPageAsync();
        var log = new EventLineCollection();
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

    /// <summary>
    /// Polls the page's <c>video#v</c> until its playhead has moved <paramref name="seconds"/> past the first time it
    /// was seen playing, the player reported errors (<paramref name="errorsExpression"/>, a string), or 25 s passed.
    /// </summary>
    /// <returns>The last playhead time, how far it moved, and the errors.</returns>
    public static async Task<(double Time, double Advanced, string Errors)> WatchPlayheadAsync(IPage page, string errorsExpression, double seconds)
    {
        ArgumentNullException.ThrowIfNull(page);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double time = 0;
        double? first = null;
        var errors = string.Empty;
        while (clock.Elapsed < TimeSpan.FromSeconds(25) && (first is null || time - first < seconds) && errors.Length == 0)
        {
            await Task.Delay(250).ConfigureAwait(false);
            time = await page.EvaluateAsync<double>("document.getElementById('v').currentTime").ConfigureAwait(false);
            if (time > 0)
            {
                first ??= time;
            }

            errors = await page.EvaluateAsync<string>(errorsExpression).ConfigureAwait(false);
        }

        return (time, time - (first ?? 0), errors);
    }
}
