using System.Globalization;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Players;

/// <summary>
/// Shaka Player (npm) in Debian's headless Chromium plays the TS master (its own TS transmuxer), the fMP4 master and
/// the MPD, live while the encoder pushes and as VOD once it ended: the playhead advances three segments, no error.
/// </summary>
public sealed class ShakaBrowserTests
{
    private const double ThreeSegments = 6;

    [Fact]
    public async Task ShakaPlaysHlsTsFmp4AndDash_LiveThenVod()
    {
        var shaka = Chromium.NodeModule("shaka-player", "dist/shaka-player.compiled.js");
        await using var server = await RunningServer.StartAsync();
        const string Point = "shaka/live.isml";
        // Long enough to still be live after three segments are listed (about 9 s), three pages start Shaka (up to 7 s
        // beside other browser tests) and each plays three segments: 22 s left a run beside the hls.js tests no margin.
        var push = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 32 });
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        string[] outputs = ["master.m3u8", "master-fmp4.m3u8", "manifest.mpd"];
        try
        {
            await Eventually.WaitUntilAsync(async () => await server.Http.GetAsync($"{Point}/master.m3u8") is { IsSuccessStatusCode: true } r
                    && HlsText.Segments(await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await r.Content.ReadAsStringAsync(), "#EXT-X-STREAM-INF")[0].Uri}")).Count >= 3,
                "three live segments", poll: TimeSpan.FromMilliseconds(250));
            var live = await Task.WhenAll(outputs.Select(o => PlayAsync(browser, shaka, server.Url($"{Point}/{o}"))));
            Assert.All(live, p => Assert.True(p.Advanced >= ThreeSegments && p.Errors.Length == 0 && p.Live, p.Describe));
        }
        finally
        {
            Assert.True((await push).ExitCode == 0);
        }

        await Eventually.WaitUntilAsync(async () => (await server.Http.GetStringAsync($"{Point}/master.m3u8")).Length > 0
                && (await server.Http.GetStringAsync($"{Point}/{HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0].Uri}")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the point never became VOD", poll: TimeSpan.FromMilliseconds(250));
        var vod = await Task.WhenAll(outputs.Select(o => PlayAsync(browser, shaka, server.Url($"{Point}/{o}"))));
        Assert.All(vod, p => Assert.True(p.Advanced >= ThreeSegments && p.Errors.Length == 0 && !p.Live, p.Describe));
    }

    private static async Task<Playback> PlayAsync(IBrowser browser, byte[] shaka, Uri manifest)
    {
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, manifest, "shaka-player.compiled.js", shaka, Page(manifest));
        var (time, advanced, errors) = await Chromium.WatchPlayheadAsync(page, "window.errors.join('; ')", ThreeSegments);
        var live = await page.EvaluateAsync<bool>("window.player.isLive()");
        await page.CloseAsync();
        return new Playback(manifest, time, advanced, live, errors, log);
    }

    private static string Page(Uri manifest) => $$"""
        <!doctype html>
        <video id="v" muted autoplay playsinline></video>
        <script src="shaka-player.compiled.js"></script>
        <script>
          window.errors = [];
          shaka.polyfill.installAll();
          const video = document.getElementById('v');
          const player = new shaka.Player();
          window.player = player;
          player.addEventListener('error', e => window.errors.push('code ' + e.detail.code));
          player.attach(video)
            .then(() => player.load('{{manifest}}'))
            .then(() => video.play())
            .catch(e => window.errors.push('load: ' + (e.code || e)));
        </script>
        """;

    private sealed record Playback(Uri Manifest, double CurrentTime, double Advanced, bool Live, string Errors, EventLineCollection Log)
    {
        public string Describe => string.Create(CultureInfo.InvariantCulture,
            $"{Manifest}: currentTime {CurrentTime:0.00}, advanced {Advanced:0.00} (want >= {ThreeSegments}), live {Live}, errors [{Errors}], console:\n{string.Join('\n', Log.TakeLast(30))}");
    }
}
