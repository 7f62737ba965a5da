using System.Net;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>The viewers an operator sees: one per IPv4 address or IPv6 /64, at most 10,000, the stale ones making room.</summary>
public sealed class AudienceTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AnIPv6Network_IsOneViewer_HoweverManyAddressesItUses()
    {
        var audience = new Audience();
        for (var i = 1; i <= 500; i++)
        {
            audience.Saw(IPAddress.Parse($"2001:db8:7:1::{i:x}"), Now);
        }

        audience.Saw(IPAddress.Parse("2001:db8:7:2::1"), Now);
        audience.Saw(IPAddress.Parse("192.0.2.1"), Now);
        audience.Saw(IPAddress.Parse("::ffff:192.0.2.1"), Now);
        Assert.Equal(3, audience.Viewers(Now));
    }

    [Fact]
    public void WhenFull_NewViewersWaitForStaleOnes_AndThenTakeTheirPlace()
    {
        var audience = new Audience();
        for (var i = 0; i < 10_000; i++)
        {
            audience.Saw(new IPAddress((long)(0x0A000000 + i)), Now.AddSeconds(i % 20));
        }

        audience.Saw(IPAddress.Parse("198.51.100.1"), Now.AddSeconds(25)); // none stale yet: not counted
        Assert.Equal(10_000, audience.Viewers(Now.AddSeconds(25)));

        // 31 s on, those first seen at 0 s are stale (30 s): the next new viewer takes one of their places.
        audience.Saw(IPAddress.Parse("198.51.100.2"), Now.AddSeconds(31));
        Assert.Equal(10_000 - 500 + 1, audience.Viewers(Now.AddSeconds(31)));
    }

    /// <summary>
    /// One IPv6 /48 (a site: 65,536 /64s) could pin the count at its 10,000 cap and keep every real viewer out of it for as
    /// long as it kept asking (a review's finding). A site counts at most 64 of its /64s.
    /// </summary>
    [Fact]
    public void OneIPv6Site_CountsAtMost64Networks_AndLeavesRoomForEveryoneElse()
    {
        var audience = new Audience();
        for (var i = 0; i < 20_000; i++)
        {
            audience.Saw(IPAddress.Parse($"2001:db8:1:{i:x}::1"), Now);
        }

        audience.Saw(IPAddress.Parse("2001:db8:2:1::1"), Now); // another site
        audience.Saw(IPAddress.Parse("192.0.2.1"), Now);
        Assert.Equal(Audience.MaxNetworksPerSite + 2, audience.Viewers(Now));

        // Once the site's networks are stale they make room for its new ones.
        audience.Saw(IPAddress.Parse("2001:db8:1:ffff::1"), Now.AddSeconds(31));
        Assert.Equal(1, audience.Viewers(Now.AddSeconds(31)));
    }
}
