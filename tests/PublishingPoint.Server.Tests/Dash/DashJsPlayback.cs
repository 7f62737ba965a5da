using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>dash.js in headless Chromium plays a static MPD at four times speed until a position, an error or 25 s.</summary>
internal static class DashJsPlayback
{
    /// <summary>What the page saw: the playhead, every URL it asked for, dash.js's errors and the console.</summary>
    internal sealed record Result(double Time, IReadOnlyList<string> Requested, string Errors, IReadOnlyList<string> Log)
    {
        public string Describe => string.Create(CultureInfo.InvariantCulture,
            $"currentTime {Time:0.00}, errors [{Errors}], requested:\n{string.Join('\n', Requested)}\nconsole:\n{string.Join('\n', Log)}");
    }

    /// <summary>
    /// Plays <paramref name="mpd"/> (a path under <paramref name="folder"/>, served to the page as a store behind a CDN
    /// would serve it: http://store.test/ answered from the files) or, without a folder, the absolute URL itself.
    /// </summary>
    public static async Task<Result> PlayAsync(string mpd, double until, string? folder = null)
    {
        var origin = folder is null ? new Uri(new Uri(mpd), "/") : new Uri("http://store.test/");
        var requested = new ConcurrentQueue<string>();
        var dashJs = Chromium.NodeModule("dashjs", "dist/modern/umd/dash.all.min.js");
        var html = $$"""
            <!doctype html>
            <video id="v" muted autoplay playsinline></video>
            <script src="/page/dash.all.min.js"></script>
            <script>
              window.fatal = [];
              const player = dashjs.MediaPlayer().create();
              player.on(dashjs.MediaPlayer.events.ERROR, e => window.fatal.push((e.error && (e.error.code + ' ' + e.error.message)) || JSON.stringify(e)));
              player.on(dashjs.MediaPlayer.events.PLAYBACK_STARTED, () => { document.getElementById('v').playbackRate = 4; });
              player.initialize(document.getElementById('v'), '{{new Uri(origin, mpd)}}', true);
            </script>
            """;
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        var log = new EventLineCollection();
        page.Console += (_, message) => log.Add(message.Text);
        page.Request += (_, request) => requested.Enqueue(request.Url);
        await page.RouteAsync(origin + "**", route =>
        {
            var local = new Uri(route.Request.Url).AbsolutePath.TrimStart('/');
            if (local == "page/index.html")
            {
                return route.FulfillAsync(new() { Status = 200, ContentType = "text/html", Body = html });
            }

            if (local == "page/dash.all.min.js")
            {
                return route.FulfillAsync(new() { Status = 200, ContentType = "application/javascript", BodyBytes = dashJs });
            }

            if (folder is null)
            {
                return route.ContinueAsync();
            }

            var file = Path.GetFullPath(Path.Combine(folder, local));
            return file.StartsWith(Path.GetFullPath(folder), StringComparison.Ordinal) && File.Exists(file)
                ? route.FulfillAsync(new() { Status = 200, ContentType = file.EndsWith(".mpd", StringComparison.Ordinal) ? "application/dash+xml" : "video/mp4", BodyBytes = File.ReadAllBytes(file) })
                : route.FulfillAsync(new() { Status = 404 });
        });
        await page.GotoAsync(origin + "page/index.html");
        try
        {
            // Polled in the page, on its own animation frames: the playhead at the mark, or an error.
            await page.WaitForFunctionAsync("until => document.getElementById('v').currentTime >= until || window.fatal.length > 0", until, new() { Timeout = 25_000 });
        }
        catch (TimeoutException)
        {
            // Reported below by the playhead the page reached.
        }

        var time = await page.EvaluateAsync<double>("document.getElementById('v').currentTime");
        var errors = await page.EvaluateAsync<string>("window.fatal.join('; ')");
        return new Result(time, [.. requested], errors, [.. log]);
    }
}
