"""The demo shop's catalogue (a café selling coffee, tea and gear) and its basket pool.

Orders draw whole baskets from a pool built once, so an order costs one random draw and
its total is formatted once per basket, not once per order: that keeps 10 million
orders fast. Every basket holds distinct SKUs (order items are keyed by order and SKU).
"""

from __future__ import annotations

import random
import re
import unicodedata
from typing import NamedTuple

SHOP_URL = "https://shop.example"
BASKET_POOL = 8192
OUT_OF_STOCK_SHARE = 0.05

# category: (SKU prefix, popularity, [(name, price in cents)]); two sizes share a name.
_BEANS = [
    ("Ethiopia Yirgacheffe", 1490),
    ("Ethiopia Guji Natural", 1590),
    ("Kenya Nyeri AA", 1690),
    ("Colombia Huila", 1250),
    ("Colombia Decaf Sugarcane", 1290),
    ("Brazil Cerrado", 990),
    ("Guatemala Antigua", 1190),
    ("Costa Rica Tarrazú", 1350),
    ("Honduras Marcala", 1090),
    ("Peru Cajamarca", 1150),
    ("Rwanda Huye", 1450),
    ("Sumatra Mandheling", 1290),
    ("House Espresso Blend", 950),
    ("Barcelona Blend", 1050),
]
_CATALOGUE: dict[str, tuple[str, float, list[tuple[str, int]]]] = {
    "Coffee beans": (
        "BEA",
        0.34,
        [(f"{name}, beans 250 g", price) for name, price in _BEANS]
        + [(f"{name}, beans 1 kg", price * 34 // 1000 * 100 + 90) for name, price in _BEANS],
    ),
    "Ground coffee": (
        "GRO",
        0.10,
        [
            ("House Espresso Blend, ground for espresso 250 g", 950),
            ("Barcelona Blend, ground for moka 250 g", 1050),
            ("Colombia Huila, ground for filter 250 g", 1250),
            ("Brazil Cerrado, ground for filter 250 g", 990),
            ("Colombia Decaf, ground for espresso 250 g", 1290),
            ("Café de Olla spiced coffee 250 g", 1150),
            ("Italian Roast, ground for moka 250 g", 890),
            ("Breakfast Blend, ground for cafetière 250 g", 920),
        ],
    ),
    "Capsules": (
        "CAP",
        0.10,
        [
            ("Espresso capsules Intenso, 10", 420),
            ("Espresso capsules Lungo, 10", 420),
            ("Espresso capsules Decaf, 10", 450),
            ("Espresso capsules Ethiopia, 10", 550),
            ("Espresso capsules Colombia, 10", 520),
            ("Espresso capsules Ristretto, 10", 440),
            ("Espresso capsules Intenso, 50", 1990),
            ("Espresso capsules assortment, 50", 2190),
        ],
    ),
    "Tea": (
        "TEA",
        0.15,
        [
            ("Sencha Fukamushi 100 g", 1150),
            ("Gyokuro Yame 50 g", 1850),
            ("Ceremonial matcha 30 g", 2490),
            ("Genmaicha 100 g", 790),
            ("Darjeeling First Flush 100 g", 1590),
            ("Assam Second Flush 100 g", 890),
            ("English Breakfast 100 g", 690),
            ("Earl Grey with bergamot 100 g", 750),
            ("Lapsang Souchong 100 g", 950),
            ("Pu-erh 2018 cake 100 g", 1690),
            ("Tieguanyin oolong 100 g", 1390),
            ("Milky Oolong 100 g", 1190),
            ("Bai Mudan white tea 50 g", 1090),
            ("Silver Needle white tea 50 g", 1850),
            ("Jasmine Pearls 100 g", 1350),
            ("Chai Masala 100 g", 790),
            ("Rooibos vanilla 100 g", 650),
            ("Moroccan Mint 100 g", 690),
        ],
    ),
    "Herbal infusions": (
        "INF",
        0.07,
        [
            ("Chamomile flowers 50 g", 490),
            ("Peppermint 50 g", 450),
            ("Lemon verbena 50 g", 550),
            ("Rooibos natural 100 g", 590),
            ("Hibiscus & berries 100 g", 690),
            ("Ginger & lemon 100 g", 720),
            ("Lavender & lime 50 g", 650),
            ("Honeybush 100 g", 620),
            ("Linden (til·la) 30 g", 480),
            ("Pennyroyal mint (poleo menta) 50 g", 460),
        ],
    ),
    "Brewing gear": (
        "GEA",
        0.05,
        [
            ("V60 dripper, ceramic, size 02", 2490),
            ("V60 paper filters, 100", 650),
            ("Chemex 6-cup carafe", 5490),
            ("Chemex bonded filters, 100", 1290),
            ("AeroPress coffee maker", 4490),
            ("French press 1 l", 3490),
            ("Moka pot, 6 cups", 3990),
            ("Ceramic burr hand grinder", 4990),
            ("Electric burr grinder", 14900),
            ("Gooseneck kettle 0.9 l", 6490),
            ("Digital coffee scale with timer", 3490),
            ("Milk frother", 2990),
            ("Cold brew bottle 1 l", 2750),
            ("Stainless tea infuser basket", 890),
            ("Glass teapot 800 ml", 3200),
            ("Cast-iron teapot 0.6 l", 5900),
            ("Bamboo matcha whisk (chasen)", 1850),
            ("Espresso tamper 58 mm", 2900),
        ],
    ),
    "Cups & mugs": (
        "CUP",
        0.03,
        [
            ("Espresso cups, set of 2", 1690),
            ("Cappuccino cup and saucer", 1290),
            ("Latte glass 300 ml", 990),
            ("Stoneware mug Cafè Leal", 1450),
            ("Double-wall glass 250 ml, set of 2", 1990),
            ("Travel mug 350 ml", 2290),
            ("Reusable cup, cork sleeve", 1590),
            ("Matcha bowl (chawan)", 2400),
            ("Tea cups, set of 4", 2190),
            ("Enamel camping mug", 1190),
        ],
    ),
    "Chocolate & sweets": (
        "SWE",
        0.10,
        [
            ("Dark chocolate 70 % Ecuador 80 g", 490),
            ("Milk chocolate with hazelnuts 100 g", 450),
            ("Turrón de Jijona 200 g", 950),
            ("Turrón de Alicante 200 g", 950),
            ("Catànies caramelised almonds 150 g", 790),
            ("Carquinyolis almond biscuits 200 g", 650),
            ("Panellets, box of 12", 1290),
            ("Cantucci with almonds 250 g", 690),
            ("Panettone classico 750 g", 2490),
            ("Butter shortbread 150 g", 590),
            ("Cocoa powder 250 g", 750),
            ("Chocolate-coated coffee beans 100 g", 590),
        ],
    ),
    "Syrups & milk": (
        "SYR",
        0.04,
        [
            ("Vanilla syrup 250 ml", 690),
            ("Caramel syrup 250 ml", 690),
            ("Hazelnut syrup 250 ml", 690),
            ("Oat drink, barista edition 1 l", 290),
            ("Almond drink 1 l", 320),
            ("Montseny honey 500 g", 850),
        ],
    ),
    "Gifts": (
        "GIF",
        0.02,
        [
            ("Coffee discovery box, 4 origins", 3490),
            ("Tea lover's box", 3990),
            ("Espresso gift set with cups", 5900),
            ("Matcha starter kit", 4900),
            ("Cold brew kit", 4500),
            ("Christmas hamper", 7900),
            ("Pour-over starter kit", 6900),
            ("Chocolate and coffee pairing box", 2990),
        ],
    ),
}
# Basket size (distinct lines) and quantity per line, in percent; drawn from 100 slots.
_LINES = {1: 42, 2: 31, 3: 18, 4: 9}
_QUANTITY = {1: 78, 2: 17, 3: 5}
_LINE_SLOTS = [n for n, percent in _LINES.items() for _ in range(percent)]
_QUANTITY_SLOTS = [n for n, percent in _QUANTITY.items() for _ in range(percent)]


class Product(NamedTuple):
    sku: str
    name: str
    category: str
    price_cents: int
    in_stock: bool
    popularity: float  # relative chance of being picked for a basket or a cart line

    def row(self) -> tuple[str, ...]:
        slug = slugify(self.name, "-")
        return (
            self.sku,
            self.name,
            self.category,
            money(self.price_cents),
            f"{SHOP_URL}/images/products/{self.sku.lower()}.jpg",
            f"{SHOP_URL}/products/{slug}",
            "true" if self.in_stock else "false",
        )


class Basket(NamedTuple):
    total: str  # formatted once, e.g. "23.40"
    total_cents: int
    lines: tuple[tuple[str, int, str], ...]  # (sku, quantity, unit price)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def slugify(text: str, separator: str) -> str:
    """Lower-case ASCII letters and digits, runs of anything else joined by `separator`."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return separator.join(re.findall(r"[a-z0-9]+", folded.lower()))


def catalogue(rng: random.Random) -> list[Product]:
    """The products; OUT_OF_STOCK_SHARE of them, drawn with `rng`, are out of stock."""
    products = [
        Product(f"{prefix}-{number:03d}", name, category, price, True, share / len(items))
        for category, (prefix, share, items) in _CATALOGUE.items()
        for number, (name, price) in enumerate(items, start=1)
    ]
    out = set(rng.sample(range(len(products)), round(len(products) * OUT_OF_STOCK_SHARE)))
    return [p._replace(in_stock=False) if i in out else p for i, p in enumerate(products)]


class Picker:
    """Draws products by popularity in O(1): a table of slots, each product's share of them."""

    def __init__(self, products: list[Product], slots: int = 4096) -> None:
        total = sum(p.popularity for p in products)
        self.slots = [
            p for p in products for _ in range(max(1, round(p.popularity / total * slots)))
        ]

    def distinct(self, rng: random.Random, count: int) -> list[Product]:
        """`count` different products (fewer only if the catalogue is smaller)."""
        chosen: dict[str, Product] = {}
        slots, size = self.slots, len(self.slots)
        for _ in range(count * 20):
            if len(chosen) == count:
                break
            product = slots[int(rng.random() * size)]
            chosen.setdefault(product.sku, product)
        return list(chosen.values())


SAME_CATEGORY = 0.6  # a basket's further lines come from its first line's category this often


def basket_pool(rng: random.Random, products: list[Product]) -> list[Basket]:
    """BASKET_POOL baskets of 1 to 4 distinct products, by popularity. Lines after the first
    tend to share its category (beans with beans, tea with a teapot), so products have
    complements a recommender can learn."""
    picker = Picker(products)
    by_category = {
        category: Picker([p for p in products if p.category == category])
        for category in {p.category for p in products}
    }
    pool = []
    for _ in range(BASKET_POOL):
        picked = _basket_products(rng, picker, by_category, line_count(rng))
        lines = [(p, _draw(rng, _QUANTITY_SLOTS) if p.price_cents < 2000 else 1) for p in picked]
        pool.append(make_basket(lines))
    return pool


def _basket_products(
    rng: random.Random, picker: Picker, by_category: dict[str, Picker], count: int
) -> list[Product]:
    [first] = picker.distinct(rng, 1)
    chosen = {first.sku: first}
    for _ in range(count * 20):
        if len(chosen) == count:
            break
        source = by_category[first.category] if rng.random() < SAME_CATEGORY else picker
        [product] = source.distinct(rng, 1)
        chosen.setdefault(product.sku, product)
    return list(chosen.values())


def make_basket(lines: list[tuple[Product, int]]) -> Basket:
    total = sum(product.price_cents * quantity for product, quantity in lines)
    return Basket(money(total), total, tuple((p.sku, q, money(p.price_cents)) for p, q in lines))


def line_count(rng: random.Random) -> int:
    return _draw(rng, _LINE_SLOTS)


def _draw(rng: random.Random, slots: list[int]) -> int:
    return slots[int(rng.random() * len(slots))]


def expected_lines() -> float:
    return sum(_LINE_SLOTS) / len(_LINE_SLOTS)


def share_of_baskets(min_lines: int) -> float:
    return sum(n >= min_lines for n in _LINE_SLOTS) / len(_LINE_SLOTS)
