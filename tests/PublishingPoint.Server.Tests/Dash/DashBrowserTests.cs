using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>
/// dash.js in Debian's headless Chromium plays the dynamic MPD while two real-time encoders push (across at least
/// three segments), then the static MPD of the finished point to its end.
/// Needs /usr/bin/chromium (apt: chromium) and Browser/node_modules (npm ci in tests/PublishingPoint.Server.Tests/Browser).
/// </summary>
public sealed class DashBrowserTests
{
    private const string Point = "browser/dash.isml";
    private const double Seconds = 24;
    private const double ThreeSegments = 6.2;

    [Fact]
    public async Task DashJsPlaysTheLiveMpdThenTheStaticOneToTheEnd()
    {
        var dashJs = Chromium.NodeModule("dashjs", "dist/modern/umd/dash.all.min.js");
        await using var server = await RunningServer.StartAsync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var pushes = Task.WhenAll(
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = Seconds }, stop.Token),
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = Seconds }, stop.Token));
        var mpdUrl = server.Url($"{Point}/manifest.mpd");
        await WaitForMpdAsync(server, m => m.IsDynamic && m.Video.Count() == 2 && m.Video.Concat(m.Audio).All(r => r.Segments.Count >= 3));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);

        // Live: from the first time seen playing, the position must advance across three segments.
        var livePage = await OpenAsync(browser, dashJs, mpdUrl);
        var clock = Stopwatch.StartNew();
        double? first = null;
        var dynamicWhenFirstSeen = false;
        var state = await StateAsync(livePage.Page);
        while (clock.Elapsed < TimeSpan.FromSeconds(Seconds) && state.Errors.Length == 0 && (first is null || state.Time - first < ThreeSegments))
        {
            await Task.Delay(250);
            state = await StateAsync(livePage.Page);
            if (first is null && state.Time > 0 && !state.Paused)
            {
                first = state.Time;
                dynamicWhenFirstSeen = state.Dynamic;
            }
        }

        var live = new Playback(mpdUrl, "live", first ?? double.NaN, state, livePage.Log);
        Assert.True(first is not null && state.Time - first >= ThreeSegments && state.Errors.Length == 0, live.Describe);
        // Playing the live MPD; a page that started late beside other browser tests may see the push end (and the MPD
        // turn static) before it has played three segments, which it must then play through without an error.
        Assert.True(dynamicWhenFirstSeen, live.Describe);
        await livePage.Page.CloseAsync();

        var pushed = await pushes;
        Assert.All(pushed, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));
        var vod = await WaitForMpdAsync(server, m => !m.IsDynamic);
        var end = vod.Duration("mediaPresentationDuration")!.Value.TotalSeconds;

        // VOD: the whole presentation at four times speed, to (near) its end.
        var vodPage = await OpenAsync(browser, dashJs, mpdUrl, playbackRate: 4);
        clock.Restart();
        state = await StateAsync(vodPage.Page);
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && state.Errors.Length == 0 && !state.Ended && state.Time < end - 0.5)
        {
            await Task.Delay(250);
            state = await StateAsync(vodPage.Page);
        }

        var played = new Playback(mpdUrl, "static", 0, state, vodPage.Log);
        Assert.True((state.Ended || state.Time >= end - 0.5) && state.Errors.Length == 0, played.Describe);
        Assert.False(state.Dynamic, played.Describe);
        Assert.InRange(state.Duration, end - 0.5, end + 0.5);
    }

    private static Task<(IPage Page, EventLineCollection Log)> OpenAsync(IBrowser browser, byte[] dashJs, Uri mpd, double playbackRate = 1) =>
        Chromium.OpenPlayerPageAsync(browser, mpd, "dash.all.min.js", dashJs, Page(mpd, playbackRate));

    private static async Task<PlayerState> StateAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("""
            JSON.stringify({
              time: document.getElementById('v').currentTime,
              paused: document.getElementById('v').paused,
              ended: document.getElementById('v').ended,
              duration: player.duration() || 0,
              dynamic: !!player.isDynamic(),
              errors: window.fatal.join('; ')
            })
            """);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new PlayerState(
            root.GetProperty("time").GetDouble(),
            root.GetProperty("paused").GetBoolean(),
            root.GetProperty("ended").GetBoolean(),
            root.GetProperty("duration").GetDouble(),
            root.GetProperty("dynamic").GetBoolean(),
            root.GetProperty("errors").GetString() ?? string.Empty);
    }

    private static string Page(Uri mpd, double playbackRate) => $$"""
        <!doctype html>
        <video id="v" muted autoplay playsinline></video>
        <script src="dash.all.min.js"></script>
        <script>
          window.fatal = [];
          const video = document.getElementById('v');
          const player = dashjs.MediaPlayer().create();
          player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
          player.on(dashjs.MediaPlayer.events.ERROR, e => {
            const detail = (e.error && (e.error.code + ' ' + e.error.message)) || JSON.stringify(e);
            console.log('dash error ' + detail);
            window.fatal.push(detail);
          });
          player.on(dashjs.MediaPlayer.events.PLAYBACK_STARTED, () => { video.playbackRate = {{playbackRate.ToString(CultureInfo.InvariantCulture)}}; });
          player.initialize(video, '{{mpd}}', true);
        </script>
        """;

    private static async Task<MpdView> WaitForMpdAsync(RunningServer server, Func<MpdView, bool> ready)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var response = await server.Http.GetAsync($"{Point}/manifest.mpd");
            if (response.IsSuccessStatusCode && MpdView.Parse(await response.Content.ReadAsStringAsync()) is { } mpd && ready(mpd))
            {
                return mpd;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"MPD not ready on {server.BaseUrl}");
    }

    private sealed record PlayerState(double Time, bool Paused, bool Ended, double Duration, bool Dynamic, string Errors);

    private sealed record Playback(Uri Mpd, string Kind, double First, PlayerState State, EventLineCollection Log)
    {
        public string Describe => string.Create(CultureInfo.InvariantCulture,
            $"{Kind} {Mpd}: first seen at {First:0.00}, now {State.Time:0.00} (duration {State.Duration:0.00}, paused {State.Paused}, ended {State.Ended}, dynamic {State.Dynamic}), errors [{State.Errors}], console:\n{string.Join('\n', Log)}");
    }
}
