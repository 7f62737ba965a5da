using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// Files past ArchiveLengthSeconds are deleted when a file rolls over, after the fragment that rolled over was
/// archived and indexed. A delete that failed (a file an operator's tool holds, a disk error) failed that fragment
/// with 507 "the archive cannot store this fragment" and ended the encoder's push (a review's finding). It is a
/// warning now, and the push goes on.
/// </summary>
public sealed class PruneFailureTests
{
    [Fact]
    public async Task AnOldArchiveThatCannotBeDeleted_IsLogged_AndThePushGoesOn()
    {
        var log = new LogCapture(LogLevel.Warning);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(log),
            "--PublishingPoint:ArchiveSegmentSeconds=10", "--PublishingPoint:ArchiveLengthSeconds=15", "--PublishingPoint:FinalizeGraceSeconds=3600");
        var folder = Path.Combine(server.DataPath, "live", "prune.isml");
        var (header, fragments) = Boxes.SplitFragments(IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(40, 300, 64)));
        var push = await HeldPush.StartAsync(server.BaseUrl, "/live/prune.isml/Streams(a)");
        await push.SendAsync(header);
        foreach (var fragment in fragments.Where(f => Boxes.TfxdTime(f) < 140_000_000))
        {
            await push.SendAsync(fragment);
        }

        // The first file has rolled over; a directory takes its name, so deleting it fails as an undeletable file does.
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(folder, "a.1.ismv")), "the first file never rolled over");
        File.Move(Path.Combine(folder, "a.ismv"), Path.Combine(folder, "moved-aside"));
        Directory.CreateDirectory(Path.Combine(folder, "a.ismv", "held"));

        foreach (var fragment in fragments.Where(f => Boxes.TfxdTime(f) >= 140_000_000))
        {
            await push.SendAsync(fragment);
        }

        Assert.Equal(200, await push.FinishAsync());
        Assert.Contains(log.Entries, e => e.Message.Contains("a.ismv", StringComparison.Ordinal) && e.Message.Contains("could not be deleted", StringComparison.Ordinal) && e.Exception is not null);
        var playlist = await server.Http.GetStringAsync("live/prune.isml/hls/video-300000.m3u8");
        Assert.True(HlsText.LongTag(playlist, "#EXT-X-MEDIA-SEQUENCE") >= 5, playlist);
        var last = HlsText.Segments(playlist)[^1].Uri;
        Assert.True(int.Parse(last[(last.LastIndexOf('/') + 1)..last.LastIndexOf('.')], System.Globalization.CultureInfo.InvariantCulture) >= 18, playlist); // to the end of the push
    }
}
