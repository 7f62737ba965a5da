using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>
/// Players match an MPD's AdaptationSets across updates by id (dash.js keeps the selected track by it). The ids
/// followed the tracks' order, highest bit rate first, so a second language joining at a higher bit rate took the
/// first language's id and the player switched language.
/// </summary>
public sealed class AdaptationSetIdTests
{
    [Fact]
    public async Task ALanguageThatJoinsLater_DoesNotTakeTheIdOfOneAlreadyListed()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:FinalizeGraceSeconds=300");
        await PushAsync(server, "a", ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", "64k", "-metadata:s:a:0", "language=eng"]);
        // The last fragments may be indexed just after ffmpeg has its answer: wait for the audio to be listed.
        var before = new Dictionary<string, string>();
        await Eventually.WaitUntilAsync(async () => (before = await AudioSetsAsync(server)).Count > 0, "the MPD lists no audio AdaptationSet");
        Assert.Equal(["eng"], before.Keys);

        await PushAsync(server, "b", ["-f", "lavfi", "-i", "sine=frequency=600:sample_rate=48000", "-c:a", "aac", "-b:a", "128k", "-metadata:s:a:0", "language=fra"]);
        var after = new Dictionary<string, string>();
        await Eventually.WaitUntilAsync(async () => (after = await AudioSetsAsync(server)).Count > 1, "the MPD does not list the second language");
        Assert.Equal(["eng", "fra"], after.Keys.Order());
        Assert.Equal(before["eng"], after["eng"]);
        Assert.NotEqual(after["eng"], after["fra"]);
    }

    private static async Task PushAsync(RunningServer server, string stream, string[] input)
    {
        var push = await Tool.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", .. input, "-t", "4", "-movflags", "isml+frag_keyframe", "-f", "ismv",
            server.Url($"live/langs.isml/Streams({stream})").ToString()]);
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
    }

    // language -> AdaptationSet id of the live MPD's audio sets
    private static async Task<Dictionary<string, string>> AudioSetsAsync(RunningServer server)
    {
        var mpd = MpdView.Parse(await server.Http.GetStringAsync("live/langs.isml/manifest.mpd"));
        return mpd.AdaptationSets.Where(s => s.ContentType == "audio")
            .ToDictionary(s => (string?)s.Element.Attribute("lang") ?? "", s => (string?)s.Element.Attribute("id") ?? "");
    }
}
