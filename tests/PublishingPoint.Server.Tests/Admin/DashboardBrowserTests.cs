using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>
/// The operator dashboard in Debian's headless Chromium (/usr/bin/chromium through Playwright): the page polls
/// /api/points, previews a point with the hls.js the server build copied from npm, and acts on points through the
/// confirm dialog. Screenshots go to TestResults/ under the test's working directory.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private const string LivePoint = "dash/live.isml";
    private const string StalledPoint = "dash/stalled.isml";

    /// <summary>A push that sends two fragments and then nothing, its connection left open: its encoder stalled.</summary>
    private static async Task<HeldPush> StallAPointAsync(RunningServer server)
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var push = await HeldPush.StartAsync(server.BaseUrl, $"/{StalledPoint}/Streams(cam)");
        await push.SendAsync(header);
        await push.SendAsync(fragments[0]);
        await push.SendAsync(fragments[1]);
        return push;
    }

    [Fact]
    public async Task Dashboard_ShowsALivePoint_PreviewsIt_AndClosesItToVod()
    {
        var clock = Stopwatch.StartNew();
        await using var server = await RunningServer.StartAsync();
        using var stopEncoder = new CancellationTokenSource();
        var push = Encoder.PushSmoothAsync(
            server.Url($"{LivePoint}/Streams(cam)"),
            new EncoderSettings { VideoKbps = 500, Width = 480, Height = 270, AudioKbps = 64, Seconds = 25 },
            stopEncoder.Token);
        var log = new EventLineCollection();
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await Chromium.LaunchAsync(playwright);
            var page = await OpenDashboardAsync(browser, server, log);

            var card = page.Locator($"section.point[data-path=\"{LivePoint}\"]");
            await Expect(card.Locator(".state")).ToHaveTextAsync("live", new() { Timeout = 20_000 });
            var tracks = card.Locator("table.tracks tbody tr");
            await Expect(tracks).ToHaveCountAsync(2, new() { Timeout = 10_000 });
            var video = tracks.Filter(new() { HasText = "video" });
            await Expect(video).ToContainTextAsync("avc1.");
            await Expect(video).ToContainTextAsync("480×270");
            var audio = tracks.Filter(new() { HasText = "audio" });
            await Expect(audio).ToContainTextAsync("mp4a.40.2");
            await Expect(audio).ToContainTextAsync("48000 Hz");
            var stream = card.Locator("table.streams tbody tr");
            await Expect(stream).ToHaveCountAsync(1);
            await Expect(stream).ToContainTextAsync("cam");
            await Expect(stream).ToContainTextAsync("127.0.0.1");

            // the counters update themselves: wait for the video row to count three fragments (a playable live window)
            await page.WaitForFunctionAsync(
                $"[...document.querySelectorAll('section.point[data-path=\"{LivePoint}\"] table.tracks tbody tr')]" +
                ".some(r => r.cells[1].textContent === 'video' && Number(r.cells[5].textContent) >= 3)",
                null, new() { Timeout = 20_000, PollingInterval = 250 });

            // What an operator sees without reading the tables: a live picture, the ingest rate over time, viewers and
            // egress, every playback URL with a copy button, and a warning for an encoder that stalled.
            try
            {
                await page.WaitForFunctionAsync(
                    $"document.querySelector('section.point[data-path=\"{LivePoint}\"] .tile video').currentTime > 1", null, new() { Timeout = 20_000, PollingInterval = 250 });
            }
            catch (TimeoutException)
            {
                var state = await page.EvaluateAsync<string>($"(() => {{ const v = document.querySelector('section.point[data-path=\"{LivePoint}\"] .tile video'); return JSON.stringify({{ t: v.currentTime, rs: v.readyState, paused: v.paused, src: v.currentSrc, err: v.error && v.error.message, label: document.querySelector('section.point[data-path=\"{LivePoint}\"] .tile-label').textContent }}); }})()");
                Assert.Fail("tile never played: " + state + "\n" + string.Join('\n', log));
            }
            await page.WaitForFunctionAsync(
                $"Number(document.querySelector('section.point[data-path=\"{LivePoint}\"] table.streams tbody tr svg.spark').dataset.max) > 100000",
                null, new() { Timeout = 20_000, PollingInterval = 250 });
            await Expect(card.Locator(".viewers")).Not.ToHaveTextAsync("0", new() { Timeout = 10_000 });
            await Expect(card.Locator(".egress")).Not.ToHaveTextAsync("0 kbps", new() { Timeout = 10_000 });
            var urls = card.Locator("table.urls tbody tr");
            await Expect(urls).ToHaveCountAsync(4);
            foreach (var (format, end) in new[] { ("hlsTs", "/master.m3u8"), ("hlsFmp4", "/master-fmp4.m3u8"), ("dash", "/manifest.mpd"), ("smooth", "/Manifest") })
            {
                var row = card.Locator($"table.urls tbody tr[data-format={format}]");
                await Expect(row.Locator("code")).ToHaveTextAsync(server.Url($"{LivePoint}{end}").ToString());
            }

            var copy = card.Locator("table.urls tbody tr[data-format=hlsTs] button"); // by place: its name changes to "Copied"
            await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
            // "Copied" shows for 1.5 s: on a loaded machine a poll of the button can miss it, a recorder in the page cannot.
            await page.EvaluateAsync(
                @"selector => {
                    window.copiedSeen = false;
                    new MutationObserver(() => { if (document.querySelector(selector)?.textContent === 'Copied') window.copiedSeen = true; })
                        .observe(document.body, { subtree: true, childList: true, characterData: true });
                }",
                $"section.point[data-path=\"{LivePoint}\"] table.urls tbody tr[data-format=hlsTs] button");
            await copy.ClickAsync();
            await page.WaitForFunctionAsync("() => window.copiedSeen === true", null, new() { Timeout = 10_000 });
            Assert.Equal(server.Url($"{LivePoint}/master.m3u8").ToString(), await page.EvaluateAsync<string>("navigator.clipboard.readText()"));
            var stalled = await StallAPointAsync(server);
            var stalledCard = page.Locator($"section.point[data-path=\"{StalledPoint}\"]");
            await Expect(stalledCard.Locator("ul.warnings")).ToContainTextAsync("behind real time", new() { Timeout = 20_000 });
            output.WriteLine($"screenshot: {await ScreenshotAsync(page, "dashboard-overview.png")}");
            await stalled.DisposeAsync();

            await card.GetByRole(AriaRole.Button, new() { Name = "Preview", Exact = true }).ClickAsync();
            await Expect(page.Locator("#preview")).ToBeVisibleAsync();
            var (first, last) = await WatchPlaybackAsync(page, TimeSpan.FromSeconds(20), 3.0);
            var status = await page.Locator("#preview-status").TextContentAsync();
            Assert.True(last - first > 3.0, string.Create(CultureInfo.InvariantCulture,
                $"preview currentTime went {first:0.00} -> {last:0.00}; status '{status}'; console:\n{string.Join('\n', log)}"));

            output.WriteLine($"screenshot: {await ScreenshotAsync(page, "dashboard.png")}");

            await card.GetByRole(AriaRole.Button, new() { Name = "Close", Exact = true }).ClickAsync();
            var dialog = page.Locator("dialog#confirm");
            await Expect(dialog).ToBeVisibleAsync();
            await Expect(dialog).ToContainTextAsync(LivePoint);
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
            await Expect(dialog).ToBeHiddenAsync();
            await Expect(card.Locator(".state")).ToHaveTextAsync("vod", new() { Timeout = 15_000 });
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Open", Exact = true })).ToBeEnabledAsync();
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Close", Exact = true })).ToBeDisabledAsync();
            await Expect(card.Locator(".meta")).ToContainTextAsync("closed to ingest");

            output.WriteLine($"screenshot: {await ScreenshotAsync(page, "dashboard-vod.png")}");
            Assert.DoesNotContain(log, l => l.StartsWith("pageerror", StringComparison.Ordinal));
        }
        finally
        {
            // the close cuts the encoder off; one still pushing after that (or after a failure) is stopped
            if (await Task.WhenAny(push, Task.Delay(TimeSpan.FromSeconds(3))) != push)
            {
                await stopEncoder.CancelAsync();
            }

            try
            {
                var result = await push;
                output.WriteLine($"ffmpeg exited with {result.ExitCode}: {result.StdErr.Trim()}");
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                output.WriteLine("ffmpeg was stopped");
            }

            output.WriteLine($"took {clock.Elapsed.TotalSeconds:0.0} s");
        }
    }

    /// <summary>
    /// With an AdminApiKey the page itself is public but the API answers 401: the page asks for the key (a wrong one
    /// is asked again), keeps it in sessionStorage, creates a point from its form, and deletes it only once the
    /// delete is confirmed.
    /// </summary>
    [Fact]
    public async Task Dashboard_AsksForTheOperatorKey_CreatesAndDeletesAPoint()
    {
        const string Key = "dash-operator-key";
        const string Created = "ops/new.isml";
        await using var server = await RunningServer.StartAsync(null, $"--PublishingPoint:AdminApiKey={Key}");
        using (var anonymous = await server.Http.GetAsync("api/points"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        var log = new EventLineCollection();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await OpenDashboardAsync(browser, server, log);

        var keyDialog = page.Locator("dialog#key-dialog");
        await Expect(keyDialog).ToBeVisibleAsync(new() { Timeout = 10_000 });
        await page.Locator("#key-input").FillAsync("wrong-key");
        await page.Locator("#key-save").ClickAsync();
        await Expect(keyDialog.Locator(".message")).ToContainTextAsync("refused", new() { Timeout = 10_000 });
        await Expect(keyDialog).ToBeVisibleAsync();
        await page.Locator("#key-input").FillAsync(Key);
        await page.Locator("#key-save").ClickAsync();
        await Expect(keyDialog).ToBeHiddenAsync();
        await Expect(page.Locator("#no-points")).ToBeVisibleAsync(new() { Timeout = 10_000 });
        Assert.Equal(Key, await page.EvaluateAsync<string>("sessionStorage.getItem('publishingpoint.operatorKey')"));

        var form = page.Locator("form#create");
        await form.Locator("input[name=path]").FillAsync(Created);
        await form.Locator("input[name=dvrWindowSeconds]").FillAsync("60");
        await form.Locator("input[value=Fmp4]").CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        await Expect(page.Locator("#create-result")).ToHaveTextAsync($"created {Created}");
        var card = page.Locator($"section.point[data-path=\"{Created}\"]");
        await Expect(card.Locator(".state")).ToHaveTextAsync("idle");
        await Expect(card.Locator(".meta")).ToContainTextAsync("DVR 60 s");
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Preview", Exact = true })).ToBeDisabledAsync();

        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/points/{Created}");
        request.Headers.Add("X-Api-Key", Key);
        using (var response = await server.Http.SendAsync(request))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Contains("\"dvrWindowSeconds\":60", body, StringComparison.Ordinal);
            Assert.Contains("\"Fmp4\"", body, StringComparison.Ordinal);
        }

        // Cancel keeps it (two polls later it is still listed), Confirm deletes it
        var dialog = page.Locator("dialog#confirm");
        await card.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await Expect(dialog).ToBeVisibleAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        var polls = await page.EvaluateAsync<int>("Number(document.body.dataset.polls)");
        await page.WaitForFunctionAsync("n => Number(document.body.dataset.polls) >= n", polls + 2);
        await Expect(card).ToHaveCountAsync(1);

        await card.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(card).ToHaveCountAsync(0, new() { Timeout = 10_000 });
        await Expect(page.Locator("#no-points")).ToBeVisibleAsync();
        using var gone = new HttpRequestMessage(HttpMethod.Get, $"api/points/{Created}");
        gone.Headers.Add("X-Api-Key", Key);
        using (var response = await server.Http.SendAsync(gone))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.DoesNotContain(log, l => l.StartsWith("pageerror", StringComparison.Ordinal));
    }

    /// <summary>With PlaybackSigningKey set, unsigned playback is refused: the preview plays through a signed URL, as the tiles do.</summary>
    [Fact]
    public async Task Dashboard_PreviewsThroughASignedUrl_WhenPlaybackIsSigned()
    {
        const string Signed = "dash/signed.isml";
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:PlaybackSigningKey=dash-signing-key");
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Signed}/Streams(cam)", await IsmvCapture.SixSecondsAsync())).Status);
        using (var unsigned = await server.Http.GetAsync($"{Signed}/master.m3u8"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, unsigned.StatusCode);
        }

        var log = new EventLineCollection();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await OpenDashboardAsync(browser, server, log);
        var card = page.Locator($"section.point[data-path=\"{Signed}\"]");
        var preview = card.GetByRole(AriaRole.Button, new() { Name = "Preview", Exact = true });
        await Expect(preview).ToBeEnabledAsync(new() { Timeout = 15_000 });
        var playlists = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.EndsWith("/master.m3u8", StringComparison.Ordinal))
            {
                lock (playlists)
                {
                    playlists.Add(new Uri(request.Url).AbsolutePath);
                }
            }
        };

        await preview.ClickAsync();
        var (first, last) = await WatchPlaybackAsync(page, TimeSpan.FromSeconds(20), 3.0);
        Assert.True(last - first > 3.0, string.Create(CultureInfo.InvariantCulture,
            $"preview currentTime went {first:0.00} -> {last:0.00}; playlists {string.Join(", ", playlists)}; console:\n{string.Join('\n', log)}"));
        lock (playlists)
        {
            Assert.NotEmpty(playlists);
            Assert.All(playlists, path => Assert.StartsWith("/s/", path, StringComparison.Ordinal));
        }

        Assert.DoesNotContain(log, l => l.StartsWith("403 ", StringComparison.Ordinal));
    }

    /// <summary>
    /// The dashboard asked for the points and the server's status together: when the status failed (a data folder
    /// gone made it a 500), it showed no point at all, only a banner. Here the status answers 500 from the browser's
    /// own route, whatever the server would say.
    /// </summary>
    [Fact]
    public async Task Dashboard_ShowsThePoints_WhenTheServersStatusFails()
    {
        const string Point = "dash/nostatus.isml";
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(cam)", await IsmvCapture.SixSecondsAsync())).Status);
        var log = new EventLineCollection();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await OpenDashboardAsync(browser, server, log, page => page.RouteAsync("**/api/status", route => route.FulfillAsync(new()
        {
            Status = 500,
            ContentType = "application/problem+json",
            Body = """{"detail":"the data disk is gone"}""",
        })));
        await Expect(page.Locator($"section.point[data-path=\"{Point}\"] .state")).ToHaveTextAsync("vod", new() { Timeout = 15_000 });
        await Expect(page.Locator("#server-warnings")).ToContainTextAsync("the data disk is gone");
        Assert.Contains(log, l => l.StartsWith("500 ", StringComparison.Ordinal) && l.EndsWith("/api/status", StringComparison.Ordinal));
    }

    private static async Task<IPage> OpenDashboardAsync(IBrowser browser, RunningServer server, EventLineCollection log, Func<IPage, Task>? beforeLoad = null)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 960 } });
        if (beforeLoad is not null)
        {
            await beforeLoad(page);
        }

        page.Console += (_, message) => log.Add($"console {message.Type}: {message.Text}");
        page.PageError += (_, error) => log.Add($"pageerror: {error}");
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                log.Add($"{response.Status} {response.Url}");
            }
        };
        var response = await page.GotoAsync(server.Url("dashboard").ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        return page;
    }

    /// <summary>The preview's currentTime: the first value above 0 and the last, once it has advanced by want or time is up.</summary>
    private static async Task<(double First, double Last)> WatchPlaybackAsync(IPage page, TimeSpan limit, double want)
    {
        var clock = Stopwatch.StartNew();
        double? first = null;
        double time = 0;
        while (clock.Elapsed < limit && (first is null || time - first <= want))
        {
            await Task.Delay(250);
            time = await page.EvaluateAsync<double>("document.getElementById('preview-video').currentTime");
            if (time > 0)
            {
                first ??= time;
            }
        }

        return (first ?? 0, time);
    }

    private static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Directory.GetCurrentDirectory(), "TestResults", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Console.WriteLine($"dashboard screenshot: {path}");
        return path;
    }
}
