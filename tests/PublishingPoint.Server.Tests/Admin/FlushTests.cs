using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>POST /api/points/{path}/flush on a live point, against a disk that does not answer or fails.</summary>
public sealed class FlushTests
{
    /// <summary>
    /// "Flush" held the point's lock while it wrote the manifests (four fsyncs, for a long event after building its
    /// whole .ismc): the point's encoder and players waited for the disk. The manifests are made under the lock and
    /// written after it now. Here the disk does not answer at all: the flush's first file is a pipe nobody reads yet.
    /// </summary>
    [Fact]
    public async Task AFlushWaitingForTheDisk_HoldsUpNeitherThePointsEncoderNorItsPlayers()
    {
        await using var server = await RunningServer.StartAsync();
        var (encoder, fragments) = await LiveWithOneChunkAsync(server, "live/flushed.isml");
        await using var _ = encoder;

        var pipe = Path.Combine(server.DataPath, "live", "flushed.isml", "flushed.ismc.tmp");
        using (var mkfifo = Process.Start("mkfifo", pipe))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var flush = server.Http.PostAsync("api/points/live/flushed.isml/flush", JsonContent.Create(new { }));
        Task<int>? finish = null;
        try
        {
            await Eventually.WaitUntilAsync(AThreadWaitsToOpenAPipe, "the flush never came to write its manifest");
            foreach (var fragment in fragments.Skip(2).Take(2))
            {
                await encoder.SendAsync(fragment);
            }

            await WaitForVideoChunksAsync(server, 2);
            Assert.False(flush.IsCompleted, "the flush did not wait for its disk: the test proves nothing");

            // The encoder ends while the flush still waits: the point's finalisation waits for the flush, so the final
            // manifests are written after the flush's (made before the last fragments), not under them.
            foreach (var fragment in fragments.Skip(4))
            {
                await encoder.SendAsync(fragment);
            }

            finish = encoder.FinishAsync();
            await Eventually.WaitUntilAsync(async () => (await PointAsync(server)).GetProperty("streams")[0].GetProperty("connections").GetInt32() == 0,
                "the encoder's end was never read");
            Assert.Equal("live", (await PointAsync(server)).GetProperty("state").GetString()); // its finalisation waits for the flush
        }
        finally
        {
            if (!flush.IsCompleted)
            {
                // The disk answers at last: the manifest's bytes are read (by cat, which takes no lock on the file as
                // .NET's readers do, where the writer's exclusive one would fail).
                using var cat = Process.Start(new ProcessStartInfo("cat", [pipe]) { RedirectStandardOutput = true })!;
                var written = await cat.StandardOutput.ReadToEndAsync();
                await cat.WaitForExitAsync();
                Assert.Contains("<SmoothStreamingMedia", written, StringComparison.Ordinal);
            }
        }

        using var flushed = await flush;
        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);
        Assert.Equal(200, await finish!);
        var vod = await SmoothManifestView.FetchVodAsync(server.Http, "live/flushed.isml/Manifest");
        Assert.Equal(fragments.Count / 2, vod.ChunkTimes("video").Length);
        var onDisk = await File.ReadAllTextAsync(Path.Combine(server.DataPath, "live", "flushed.isml", "flushed.ismc"));
        Assert.Equal(fragments.Count / 2, SmoothManifestView.Parse(onDisk).ChunkTimes("video").Length); // the final manifest, not the flush's
    }

    /// <summary>A disk error in a flush is a problem answer naming it (and a log line), not a bare 500.</summary>
    [Fact]
    public async Task AFlushTheDiskRefuses_Gets500WithTheReason_AndThePointGoesOn()
    {
        await using var server = await RunningServer.StartAsync();
        var (encoder, fragments) = await LiveWithOneChunkAsync(server, "live/refused.isml");
        await using var _ = encoder;

        // A folder where the manifest's temporary file goes: the disk's refusal, as a full or read-only one would give.
        Directory.CreateDirectory(Path.Combine(server.DataPath, "live", "refused.isml", "refused.ismc.tmp"));
        using (var flush = await server.Http.PostAsync("api/points/live/refused.isml/flush", JsonContent.Create(new { })))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, flush.StatusCode);
            Assert.Equal("application/problem+json", flush.Content.Headers.ContentType?.MediaType);
            Assert.Contains("manifests could not be written", await flush.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var fragment in fragments.Skip(2))
        {
            await encoder.SendAsync(fragment);
        }

        Assert.Equal(200, await encoder.FinishAsync());
        Assert.Equal(fragments.Count / 2, (await SmoothManifestView.FetchVodAsync(server.Http, "live/refused.isml/Manifest")).ChunkTimes("video").Length);
    }

    /// <summary>An encoder that has sent its header and the first two fragments (one video chunk listed), held open.</summary>
    private static async Task<(HeldPush Encoder, List<byte[]> Fragments)> LiveWithOneChunkAsync(RunningServer server, string point)
    {
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var encoder = await HeldPush.StartAsync(server.BaseUrl, $"/{point}/Streams(enc1)");
        await encoder.SendAsync(header);
        await encoder.SendAsync(fragments[0]);
        await encoder.SendAsync(fragments[1]);
        await WaitForVideoChunksAsync(server, 1, point);
        return (encoder, fragments);
    }

    private static async Task<JsonElement> PointAsync(RunningServer server)
    {
        using var held = new CancellationTokenSource(TimeSpan.FromSeconds(5)); // held when the point's lock is taken
        using var point = JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/flushed.isml", held.Token));
        return point.RootElement.Clone();
    }

    private static bool AThreadWaitsToOpenAPipe() =>
        Directory.EnumerateDirectories("/proc/self/task").Any(task =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "wchan")) == "wait_for_partner";
            }
            catch (IOException)
            {
                return false; // the thread ended meanwhile
            }
        });

    private static Task WaitForVideoChunksAsync(RunningServer server, int count, string point = "live/flushed.isml") =>
        Eventually.WaitUntilAsync(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                using var response = await server.Http.GetAsync($"{point}/Manifest", timeout.Token);
                return response.IsSuccessStatusCode
                    && SmoothManifestView.Parse(await response.Content.ReadAsStringAsync(timeout.Token)).ChunkTimes("video").Length >= count;
            }
            catch (OperationCanceledException)
            {
                return false; // held: the point's lock is taken
            }
        }, $"{point} never listed {count} video fragments");
}
