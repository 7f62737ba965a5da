using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>
/// A point whose first push was refused is removed, as nothing was kept. It was dropped from the registry without being
/// retired, so a second encoder that had looked the point up just before connected to it anyway: its whole push went
/// into a point no player could reach, or got 507 as its folder was deleted (a review's finding). Removal now retires
/// the point under its locks, only while nobody feeds it; an encoder that connects after that is refused (and ingest
/// admits it to the path's new point instead).
/// </summary>
public sealed class EmptyPointRemovalTests
{
    [Fact]
    public async Task AnEmptyPointIsRetiredWhenRemoved_AndOneSomebodyFeedsIsNot()
    {
        await using var server = await RunningServer.StartAsync();
        var registry = server.Services.GetRequiredService<PointRegistry>();
        Assert.True(PointPath.TryParse("live/empty.isml", out var path, out var error), error);

        var refused = registry.GetOrCreate(path);
        registry.RemoveIfEmpty(refused);
        Assert.Null(registry.Find(path));
        Assert.True(refused.Retired);
        var late = Assert.Throws<PointRuleException>(() => refused.Connect("b", DateTimeOffset.UtcNow));
        Assert.Equal(503, late.StatusCode);

        var fed = registry.GetOrCreate(path);
        Assert.NotSame(refused, fed);
        fed.Connect("b", DateTimeOffset.UtcNow);
        registry.RemoveIfEmpty(fed);
        Assert.Same(fed, registry.Find(path));
        Assert.False(fed.Retired);
    }
}
