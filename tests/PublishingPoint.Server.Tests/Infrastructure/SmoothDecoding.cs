using System.Globalization;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>A quality level's init segment and every listed fragment, as one file that ffmpeg must decode cleanly.</summary>
public static class SmoothDecoding
{
    /// <summary>Decodes the video of <paramref name="bitrate"/> (errors fail the test) and returns its frame count.</summary>
    public static async Task<int> VideoFramesAsync(RunningServer server, SmoothManifestView manifest, string point, int bitrate)
    {
        var file = Path.Combine(TempDirectory.Create("pp-decode"), "video.mp4");
        await using (var output = File.Create(file))
        {
            await output.WriteAsync(await server.Http.GetByteArrayAsync($"{point}/QualityLevels({bitrate})/Init(video)"));
            foreach (var time in manifest.ChunkTimes("video"))
            {
                var fragment = await server.Http.GetByteArrayAsync(manifest.Url("video", bitrate, time));
                Assert.Equal(["moof", "mdat"], Boxes.TopLevel(fragment).Select(b => b.Type));
                await output.WriteAsync(fragment);
            }
        }

        var decode = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"]);
        Assert.True(decode.ExitCode == 0 && decode.StdErr.Length == 0, Tool.Describe(decode));
        var frames = await Tool.ProbeAsync(file, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0");
        return int.Parse(frames.Trim(), CultureInfo.InvariantCulture);
    }
}
