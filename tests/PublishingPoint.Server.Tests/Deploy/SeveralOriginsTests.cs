using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using PublishingPoint.Benchmarks.Live;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Deploy;

/// <summary>
/// Two origins fed the same encoder output (two ffmpeg processes pushing one recording, timestamps locked to one
/// timecode and a 'prft' from them) behind the shipped nginx config: whatever each origin saw first, the same URL gives
/// the same bytes, and hls.js plays through nginx while an origin is killed and later restarted.
/// </summary>
public sealed partial class SeveralOriginsTests
{
    private const string Point = "live/twin.isml";
    private const int GopSeconds = 2;


    [Fact]
    public async Task OriginsThatJoinedAtDifferentTimes_NameAndNumberTheSameMediaTheSame()
    {
        var source = await RecordingAsync(24);
        var timecode = Timecode();
        await using var early = await RunningServer.StartAsync();
        await using var late = await RunningServer.StartAsync();
        var first = await PushAsync(early.Url($"{Point}/Streams(enc1)"), source, 0, timecode, realTime: false, CancellationToken.None);
        var second = await PushAsync(late.Url($"{Point}/Streams(enc1)"), source, 8, timecode, realTime: false, CancellationToken.None);
        Assert.True(first.ExitCode == 0, Tool.Describe(first));
        Assert.True(second.ExitCode == 0, Tool.Describe(second));
        await FinishedAsync(early.Http);
        await FinishedAsync(late.Http);

        var (video, audio) = await RenditionsAsync(early.Http);
        Assert.Equal((video, audio), await RenditionsAsync(late.Http));
        var earlyPlaylist = await early.Http.GetStringAsync($"{Point}/hls/{video}.m3u8");
        var latePlaylist = await late.Http.GetStringAsync($"{Point}/hls/{video}.m3u8");
        var earlySegments = Entries(earlyPlaylist);
        var lateSegments = Entries(latePlaylist);
        Assert.True(earlySegments.Count >= 10, earlyPlaylist);
        Assert.True(lateSegments.Count >= 6, latePlaylist);
        // The late origin's segments are a tail of the early one's: same numbers, URIs and durations, and its first
        // program date time is the one the early origin gives that segment.
        Assert.True(earlySegments.TakeLast(lateSegments.Count).Select(e => e[e.IndexOf('|', StringComparison.Ordinal)..])
            .SequenceEqual(lateSegments.Select(e => e[e.IndexOf('|', StringComparison.Ordinal)..])), $"early:\n{earlyPlaylist}\nlate:\n{latePlaylist}");
        Assert.Equal(DateOf(earlyPlaylist, earlySegments.Count - lateSegments.Count), DateOf(latePlaylist, 0));
        Assert.Equal((timecode / GopSeconds) + (8 / GopSeconds), long.Parse(Regex.Match(latePlaylist, @"#EXT-X-MEDIA-SEQUENCE:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture));

        // TS segments (video with the audio of its interval), fMP4 video and audio segments, both init segments. The
        // late encoder's first audio fragment is not the same media (ffmpeg's -ss keeps one audio frame from before the
        // keyframe), so that one fMP4 audio segment is left out; every later one is the same.
        var numbers = HlsText.Segments(latePlaylist).Select(s => Path.GetFileNameWithoutExtension(s.Uri)).ToArray();
        foreach (var uri in numbers)
        {
            await AssertSameAsync(early.Http, late.Http, $"{Point}/hls/{video}/{uri}.ts");
            await AssertSameAsync(early.Http, late.Http, $"{Point}/hls/{video}/{uri}.m4s");
        }

        foreach (var uri in numbers.Skip(1))
        {
            await AssertSameAsync(early.Http, late.Http, $"{Point}/hls/{audio}/{uri}.m4s");
        }

        await AssertSameAsync(early.Http, late.Http, $"{Point}/hls/{video}/init.mp4");
        await AssertSameAsync(early.Http, late.Http, $"{Point}/hls/{audio}/init.mp4");

        // Smooth: the late origin's chunks are the early one's, byte for byte.
        var smooth = await SmoothManifestView.FetchAsync(late.Http, $"{Point}/Manifest");
        var bitrate = video[(video.LastIndexOf('-') + 1)..];
        var stream = video[..video.LastIndexOf('-')];
        foreach (var time in smooth.ChunkTimes("video").Take(4))
        {
            await AssertSameAsync(early.Http, late.Http, $"{Point}/QualityLevels({bitrate})/Fragments({stream}={time})");
        }
    }

    [Fact]
    public async Task OneEncoderTeedToTwoOrigins_EveryOutputIsTheSameBytes()
    {
        var source = await RecordingAsync(12);
        await using var one = await RunningServer.StartAsync();
        await using var two = await RunningServer.StartAsync();
        var slave = "[f=ismv:movflags=isml+frag_keyframe:write_prft=pts:onfail=ignore]"; // as the README recipe
        var push = await Tool.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-i", source, "-map", "0", "-c", "copy", "-output_ts_offset", Timecode().ToString(CultureInfo.InvariantCulture),
            "-f", "tee", $"{slave}{one.Url($"{Point}/Streams(enc1)")}|{slave}{two.Url($"{Point}/Streams(enc1)")}",
        ]);
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        await FinishedAsync(one.Http);
        await FinishedAsync(two.Http);

        var (video, audio) = await RenditionsAsync(one.Http);
        List<string> urls = [$"{Point}/master.m3u8", $"{Point}/master-fmp4.m3u8", $"{Point}/manifest.mpd", $"{Point}/Manifest",
            $"{Point}/hls/{video}.m3u8", $"{Point}/hls/{video}-fmp4.m3u8", $"{Point}/hls/{audio}-fmp4.m3u8",
            $"{Point}/hls/{video}/init.mp4", $"{Point}/hls/{audio}/init.mp4"];
        foreach (var segment in HlsText.Segments(await one.Http.GetStringAsync($"{Point}/hls/{video}.m3u8")))
        {
            var n = Path.GetFileNameWithoutExtension(segment.Uri);
            urls.AddRange([$"{Point}/hls/{video}/{n}.ts", $"{Point}/hls/{video}/{n}.m4s", $"{Point}/hls/{audio}/{n}.m4s"]);
        }

        var smooth = await SmoothManifestView.FetchAsync(one.Http, $"{Point}/Manifest");
        var bitrate = video[(video.LastIndexOf('-') + 1)..];
        urls.AddRange(smooth.ChunkTimes("video").Select(t => $"{Point}/QualityLevels({bitrate})/Fragments({video[..video.LastIndexOf('-')]}={t})"));
        Assert.True(urls.Count > 20);
        foreach (var url in urls)
        {
            await AssertSameAsync(one.Http, two.Http, url);
        }
    }

    [Fact]
    public async Task HlsJsPlaysThroughNginx_WhileAnOriginIsKilledAndRestarted()
    {
        var source = await RecordingAsync(70);
        var timecode = Timecode();
        var (portA, portB) = (LiveServer.FreePort(), LiveServer.FreePort());
        var dataA = TempDirectory.Create("pp-origin-a");
        string[] settings = ["--PublishingPoint:FinalizeGraceSeconds=30"];
        var a = await LiveServer.StartAsync(settings, CancellationToken.None, dataPath: dataA, port: portA);
        await using var b = await LiveServer.StartAsync(settings, CancellationToken.None, port: portB);
        using var stopEncoders = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var pushA = PushAsync(new Uri(a.BaseUrl, $"{Point}/Streams(enc1)"), source, 0, timecode, realTime: true, stopEncoders.Token);
        var pushB = PushAsync(new Uri(b.BaseUrl, $"{Point}/Streams(enc1)"), source, 0, timecode, realTime: true, stopEncoders.Token);
        using var nginx = ShippedNginx.Start(portA, portB);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        try
        {
            var (video, audio) = ("", "");
            await Eventually.WaitUntilAsync(async () =>
                {
                    (video, audio) = await RenditionsAsync(b.Http);
                    return video.Length > 0 && HlsText.Segments(await b.Http.GetStringAsync($"{Point}/hls/{video}.m3u8")).Count >= 3;
                },
                "the origins never got three segments", poll: TimeSpan.FromMilliseconds(250), timeout: TimeSpan.FromSeconds(30));
            var hlsJs = Chromium.NodeModule("hls.js", "dist/hls.min.js");
            var master = new Uri(nginx.BaseUrl, $"{Point}/master.m3u8");
            var (page, log) = await Chromium.OpenPlayerPageAsync(browser, master, "hls.min.js", hlsJs, PlayerPage(master));
            await WaitForPlaybackAsync(page, 4, log);

            // Origin A dies without a word; nginx sends everything to B.
            a.KillHard();
            await Task.Delay(TimeSpan.FromSeconds(8));

            // A comes back on its archive and its encoder reconnects at the next keyframe, on the same timecode.
            await a.DisposeAsync();
            a = await LiveServer.StartAsync(settings, CancellationToken.None, dataPath: dataA, port: portA);
            var rejoin = Math.Ceiling(started.Elapsed.TotalSeconds / GopSeconds) * GopSeconds;
            pushA = PushAsync(new Uri(a.BaseUrl, $"{Point}/Streams(enc1)"), source, rejoin, timecode, realTime: true, stopEncoders.Token);
            var caughtUp = -1L;
            await Eventually.WaitUntilAsync(async () => (caughtUp = await EdgeAsync(a, video)) >= await EdgeAsync(b, video) - 1,
                "the restarted origin never caught up", poll: TimeSpan.FromMilliseconds(250), timeout: TimeSpan.FromSeconds(20));

            // Both serve the same bytes for the same URL: complete segments made wholly after the rejoin (the first
            // fragments after it may differ per origin, as documented), of either format.
            var edge = -1L;
            await Eventually.WaitUntilAsync(async () => (edge = Math.Min(await EdgeAsync(a, video), await EdgeAsync(b, video))) >= caughtUp + 2,
                "the origins never listed two segments after the rejoin", poll: TimeSpan.FromMilliseconds(250), timeout: TimeSpan.FromSeconds(20));
            foreach (var url in new[] { $"{Point}/hls/{video}/{edge - 1}.ts", $"{Point}/hls/{video}/{edge - 1}.m4s", $"{Point}/hls/{audio}/{edge - 1}.m4s", $"{Point}/hls/{audio}/init.mp4" })
            {
                await AssertSameAsync(b.Http, a.Http, url);
            }

            // Now B dies: A alone carries the stream.
            b.KillHard();
            await Task.Delay(TimeSpan.FromSeconds(8));

            var fatal = await page.EvaluateAsync<string>("window.fatal.join('; ')");
            var stall = await page.EvaluateAsync<double>("window.longestStall");
            var played = await page.EvaluateAsync<double>("document.getElementById('v').currentTime");
            var describe = string.Create(CultureInfo.InvariantCulture, $"fatal [{fatal}], longest stall {stall:0.00} s, currentTime {played:0.00}; console:\n{string.Join('\n', log.TakeLast(40))}");
            Assert.True(fatal.Length == 0, describe);
            Assert.True(stall <= GopSeconds, describe);
            Assert.True(played > 20, describe);
        }
        finally
        {
            await stopEncoders.CancelAsync();
            await Quietly(pushA);
            await Quietly(pushB);
            await a.DisposeAsync();
        }
    }

    private static async Task WaitForPlaybackAsync(IPage page, double seconds, EventLineCollection log) =>
        await Eventually.WaitUntilAsync(async () => await page.EvaluateAsync<double>("document.getElementById('v').currentTime") >= seconds,
            $"hls.js did not start playing through nginx: {string.Join('\n', log)}", poll: TimeSpan.FromMilliseconds(250), timeout: TimeSpan.FromSeconds(30));

    private static async Task<long> EdgeAsync(LiveServer origin, string video)
    {
        try
        {
            return HlsText.Segments(await origin.Http.GetStringAsync($"{Point}/hls/{video}.m3u8")) is [.., var last]
                ? long.Parse(Regex.Match(last.Uri, @"/(\d+)\.ts").Groups[1].Value, CultureInfo.InvariantCulture)
                : -1;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    /// <summary>ffmpeg may exit before the origin has read its last bytes: wait until the point is VOD.</summary>
    private static Task FinishedAsync(HttpClient http) =>
        Eventually.WaitUntilAsync(async () =>
        {
            var (video, _) = await RenditionsAsync(http);
            using var response = await http.GetAsync($"{Point}/hls/{video}.m3u8");
            return video.Length > 0 && response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal);
        }, "the origin never finished the point", poll: TimeSpan.FromMilliseconds(200));

    /// <summary>The video and audio rendition names (hls/{name}.m3u8, hls/{name}/{n}.ts) the fMP4 master lists.</summary>
    private static async Task<(string Video, string Audio)> RenditionsAsync(HttpClient http)
    {
        using var response = await http.GetAsync($"{Point}/master-fmp4.m3u8");
        var master = response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : "";
        var video = Regex.Match(master, @"^hls/(.+)-fmp4\.m3u8$", RegexOptions.Multiline).Groups[1].Value;
        var audio = Regex.Match(master, @"URI=""hls/(.+)-fmp4\.m3u8""").Groups[1].Value;
        return (video, audio);
    }

    private static async Task Quietly(Task<ToolResult> push)
    {
        try
        {
            await push;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // the encoder was stopped with the test
        }
    }

    /// <summary>The shared timecode both encoders' timestamps start from: a whole number of GOPs of Unix time.</summary>
    private static long Timecode() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / GopSeconds * GopSeconds;

    /// <summary>One recording, as a contribution encoder would produce it: fixed 2 s GOP, H.264 + AAC.</summary>
    private static async Task<string> RecordingAsync(int seconds)
    {
        var file = Path.Combine(TempDirectory.Create("pp-twin-src"), "source.mp4");
        await Tool.RunCheckedAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "400k",
            "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", file,
        ]);
        return file;
    }

    /// <summary>
    /// README's redundant-encoder recipe: the recording from <paramref name="from"/> s (a keyframe), timestamps kept and
    /// moved onto the shared timecode, 'prft' carrying them, pushed as Smooth.
    /// </summary>
    private static Task<ToolResult> PushAsync(Uri target, string source, double from, long timecode, bool realTime, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var args = new List<string> { "-hide_banner", "-loglevel", "error" };
        if (realTime)
        {
            args.Add("-re");
        }

        args.AddRange(["-ss", from.ToString(inv), "-copyts", "-i", source, "-c", "copy", "-output_ts_offset", timecode.ToString(inv),
            "-write_prft", "pts", "-movflags", "isml+frag_keyframe", "-f", "ismv", target.ToString()]);
        return Tool.RunAsync("ffmpeg", args, TimeSpan.FromSeconds(120), cancellationToken);
    }

    private static async Task AssertSameAsync(HttpClient one, HttpClient other, string url)
    {
        var (x, y) = (await one.GetByteArrayAsync(url), await other.GetByteArrayAsync(url));
        var at = x.AsSpan().CommonPrefixLength(y);
        Assert.True(x.AsSpan().SequenceEqual(y), $"{url}: {x.Length} and {y.Length} bytes, first difference at byte {at}");
    }

    private static DateTimeOffset DateOf(string playlist, int index)
    {
        var first = DateTimeOffset.Parse(Regex.Match(playlist, "#EXT-X-PROGRAM-DATE-TIME:(.+)").Groups[1].Value, CultureInfo.InvariantCulture);
        return first + TimeSpan.FromSeconds(HlsText.Segments(playlist).Take(index).Sum(s => s.Duration));
    }

    private static List<string> Entries(string playlist)
    {
        var lines = playlist.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var entries = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("#EXTINF", StringComparison.Ordinal))
            {
                var date = i > 0 && lines[i - 1].StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal) ? lines[i - 1] : "";
                entries.Add($"{date}|{lines[i]}|{lines[i + 1]}");
            }
        }

        return entries;
    }

    private static string PlayerPage(Uri master) => HlsJsPage.Html(master, "{ debug: false }", """
        // The longest time the playhead stood still after playback began.
        window.longestStall = 0;
        let last = -1, since = performance.now();
        setInterval(() => {
          const now = performance.now();
          if (video.currentTime !== last) { last = video.currentTime; since = now; }
          else if (last > 0) { window.longestStall = Math.max(window.longestStall, (now - since) / 1000); }
        }, 100);
        """);
}
