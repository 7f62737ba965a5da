using System.Globalization;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// hls.js in Debian's headless Chromium plays the TS and the fMP4 master across at least three segments.
/// Needs /usr/bin/chromium (apt: chromium) and Browser/node_modules (npm ci in tests/PublishingPoint.Server.Tests/Browser).
/// </summary>
public sealed class HlsBrowserTests
{
    private const string Point = "browser/hls.isml";
    private const double ThreeSegments = 6.2;

    [Fact]
    public async Task HlsJsPlaysTsAndFmp4AcrossThreeSegments()
    {
        var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
        await using var server = await RunningServer.StartAsync();
        var pushes = await Task.WhenAll(
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = 10, RealTime = false }),
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 10, RealTime = false }));
        Assert.All(pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);

        var results = await Task.WhenAll(
            PlayAsync(browser, hlsJs, server.Url($"{Point}/master.m3u8")),
            PlayAsync(browser, hlsJs, server.Url($"{Point}/master-fmp4.m3u8")));
        Assert.All(results, r => Assert.True(r.Advanced >= ThreeSegments, r.Describe));
    }

    /// <summary>
    /// The live case: two encoders push in real time while hls.js plays the live master; after a few seconds the
    /// page asks for the other level, and playback must switch and keep advancing without a fatal error.
    /// </summary>
    [Fact]
    public async Task HlsJsPlaysTheLiveTsAndFmp4Masters_AndSwitchesLevels()
    {
        var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
        await using var server = await RunningServer.StartAsync();
        const string Live = "browser/live.isml";
        var pushes = Task.WhenAll(
            Encoder.PushSmoothAsync(server.Url($"{Live}/Streams(hi)"), new EncoderSettings { VideoKbps = 500, Width = 480, Height = 270, Seconds = 26 }),
            Encoder.PushSmoothAsync(server.Url($"{Live}/Streams(lo)"), new EncoderSettings { VideoKbps = 200, AudioKbps = 0, Seconds = 26 }));
        try
        {
            await WaitForSegmentsAsync(server, $"{Live}/hls/video-200000.m3u8", 3);
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await Chromium.LaunchAsync(playwright);
            // The TS and the fMP4 masters, side by side, while the encoders push.
            var results = await Task.WhenAll(
                PlayAsync(browser, hlsJs, server.Url($"{Live}/master.m3u8"), switchLevels: true),
                PlayAsync(browser, hlsJs, server.Url($"{Live}/master-fmp4.m3u8"), switchLevels: true));
            foreach (var live in results)
            {
                Assert.True(live.Advanced >= ThreeSegments, live.Describe);
                Assert.True(live.Switched.Distinct().Count() >= 2, $"levels played: [{string.Join(", ", live.Switched)}]; {live.Describe}");
            }
        }
        finally
        {
            Assert.All(await pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));
        }
    }

    private static async Task WaitForSegmentsAsync(RunningServer server, string playlist, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await server.Http.GetAsync(playlist);
            if (response.IsSuccessStatusCode && HlsText.Segments(await response.Content.ReadAsStringAsync()).Count >= count)
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{playlist} never listed {count} segments");
    }

    private static async Task<Playback> PlayAsync(IBrowser browser, byte[] hlsJs, Uri master, bool switchLevels = false)
    {
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, master, "hls.min.js", hlsJs, Page(master, switchLevels));
        var (time, advanced, errors) = await Chromium.WatchPlayheadAsync(page, "window.fatal.join('; ')", ThreeSegments);
        var switched = await page.EvaluateAsync<int[]>("window.switched");
        return new Playback(master, time, advanced, errors, log, switched);
    }

    private static string Page(Uri master, bool switchLevels) => HlsJsPage.Html(master, "{ debug: false }", $$"""
        window.switched = [];
        hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => window.switched.push(d.level));
        if ({{(switchLevels ? "true" : "false")}}) {
          // after two seconds of playback, ask for the other level than the one playing
          const timer = setInterval(() => {
            if (video.currentTime > 2 && hls.levels.length > 1) {
              hls.nextLevel = hls.currentLevel === 0 ? 1 : 0;
              clearInterval(timer);
            }
          }, 200);
        }
        """);

    private sealed record Playback(Uri Master, double CurrentTime, double Advanced, string Errors, EventLineCollection Log, int[] Switched)
    {
        public string Describe => string.Create(CultureInfo.InvariantCulture,
            $"{Master}: currentTime {CurrentTime:0.00}, advanced {Advanced:0.00} (want >= {ThreeSegments}), fatal errors [{Errors}], console:\n{string.Join('\n', Log)}");
    }
}
