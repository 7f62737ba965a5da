using System.Globalization;
using System.Net;
using PublishingPoint.Media.Tests.Fuzzing;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>
/// Mutated ingest bodies (ismv, CMAF, MPEG-TS made by ffmpeg, then corrupted by the same mutator as the parser
/// fuzz) POSTed to a running server, each followed by a player crawl of the point it hit. Every answer must be
/// a proper HTTP response and never a 500 (an unhandled exception); a reset is allowed only as the server's own
/// way of ending a refused upload. Meanwhile a point a clean push fed before keeps serving the same bytes.
/// </summary>
public sealed class ServerFuzzTests
{
    [Fact]
    public async Task MutatedIngestBodies_GetAnAnswer_AndAnotherPointKeepsServingTheSameBytes()
    {
        var ismv = await IsmvCapture.SixSecondsAsync();
        var cmaf = await IsmvCapture.CaptureAsync(Encoder.CmafPushArguments, new EncoderSettings { Seconds = 4, RealTime = false });
        var ts = await MakeTsAsync();
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPoints=20");

        var (clean, cleanBody) = await Posting.PostChunkedAsync(server.Http, "live/good.isml/Streams(enc1)", ismv);
        Assert.True(clean == HttpStatusCode.OK, cleanBody);
        var good = await SmoothManifestView.FetchVodAsync(server.Http, "live/good.isml/Manifest");
        var videoTimes = good.ChunkTimes("video");
        var fragmentUrl = good.Url("video", 400000, videoTimes[1]);
        var before = await server.Http.GetByteArrayAsync(fragmentUrl);
        var manifestBefore = await server.Http.GetStringAsync("live/good.isml/Manifest");

        var iterations = int.TryParse(Environment.GetEnvironmentVariable("PP_SERVER_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 90;
        var failures = new List<string>();
        var resets = 0;
        for (var i = 0; i < iterations; i++)
        {
            var random = new Random(unchecked((7 * 1_000_003) + i));
            var which = random.Next(3);
            var (seed, kind) = which switch
            {
                0 => (ismv, SeedKind.Fmp4),
                1 => (cmaf, SeedKind.Fmp4),
                _ => (ts, SeedKind.Ts),
            };
            var mutator = new Mutator(random);
            var body = mutator.Mutate(seed, kind);
            var point = $"live/fuzz{i % 12}.isml";
            var describe = $"case {i} ({(which == 0 ? "ismv" : which == 1 ? "cmaf" : "ts")}: {string.Join("; ", mutator.Applied)})";
            try
            {
                var (status, text) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(s{i % 3})", body);
                if ((int)status >= 500 && status != HttpStatusCode.InsufficientStorage)
                {
                    failures.Add($"{describe}: POST answered {(int)status} {text}");
                }
            }
            catch (HttpRequestException)
            {
                resets++; // the server ended a refused upload early; the next request must still work
            }

            foreach (var bad in (await PlayerCrawl.RunAsync(server.Http, point, perList: 2)).Where(PlayerCrawl.IsBad))
            {
                failures.Add($"{describe}: GET {bad.Url} -> {(int)bad.Status} {bad.Error} ({bad.Received} of {bad.DeclaredLength} bytes)");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(20)));
        Assert.True(resets < iterations / 2, $"{resets} of {iterations} uploads ended in a reset");
        Assert.Equal(before, await server.Http.GetByteArrayAsync(fragmentUrl));
        Assert.Equal(manifestBefore, await server.Http.GetStringAsync("live/good.isml/Manifest"));
        using var health = await server.Http.GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static async Task<byte[]> MakeTsAsync()
    {
        var file = Path.Combine(TempDirectory.Create("pp-fuzz-ts"), "seed.ts");
        await Tool.RunCheckedAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "150k", "-g", "25",
            "-c:a", "aac", "-b:a", "32k", "-f", "mpegts", file,
        ], TimeSpan.FromSeconds(60));
        return await File.ReadAllBytesAsync(file);
    }
}
